"""`Trainer`: AdamW with a warm-up + cosine schedule over sliding windows of cached segments,
per-epoch validation with the ABAW metrics, checkpoints, resume and DDP.

Outputs under ``run.out``: ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one line
per epoch, epoch 0 being the untrained model), ``checkpoints/last`` and ``checkpoints/best``
(`model.checkpoint` folders; ``last`` also holds ``trainer_state.pt`` for ``--resume``),
with ``run.calibrate`` ``calibration.json`` (after the last epoch, the decision thresholds
chosen on the validation videos and folded into ``best``: `calibration`) and, with held-out
``data.test`` sources, ``test_metrics.json`` (the best checkpoint's scores).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from affect_perception.labels import TASKS
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.checkpoint import load_checkpoint, save_checkpoint
from affect_perception.train import calibration, distributed
from affect_perception.train.augment import augment_features, augment_pixels
from affect_perception.train.config import TrainConfig
from affect_perception.train.datasets import DataSource, VideoData, load_frames, read_source
from affect_perception.train.feature_cache import FrozenSplit, build_cache
from affect_perception.train.losses import MultiTaskLoss
from affect_perception.train.sampling import SegmentSampler, sliding_windows
from affect_perception.train.validation import predict_videos, score

LOG = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
TEST_FILE = "test_metrics.json"
CALIBRATION_FILE = "calibration.json"
STATE_FILE = "trainer_state.pt"
LAST, BEST = "checkpoints/last", "checkpoints/best"
# Input key of raw crops in a step's inputs (the cache keys are feature_cache's).
IMAGE = "image"


class StepModel(nn.Module):
    """One training step's forward: per-frame encoder maps of segments (from cached prefixes or
    from crops), then the temporal model on every sliding window. DDP wraps this module."""

    def __init__(self, model: AffectModel, split: FrozenSplit | None) -> None:
        super().__init__()
        self.model = model
        self.split = split

    def encode(self, frames: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Flat frames {key: (N, ...)} -> encoder maps {name: (N, C, S, S)}."""
        return self.split.suffix(frames) if self.split else self.model.encode(frames[IMAGE])

    def forward(self, segments: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{key: (B, T, ...)} -> {task: (B * (T - W + 1), dim)}, windows in segment order."""
        b, t = next(iter(segments.values())).shape[:2]
        maps = self.encode({k: v.flatten(0, 1) for k, v in segments.items()})
        window = self.model.config.window
        return self.model.temporal(
            {n: sliding_windows(m.unflatten(0, (b, t)), window) for n, m in maps.items()}
        )


def sources(entries: tuple, split: str) -> list[DataSource]:
    """Data roots (str) or explicit path mappings -> `DataSource`s."""
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            out.append(DataSource(**{k: Path(v) for k, v in entry.items()}))
        else:
            out.append(DataSource.from_root(entry, split))
    return out


def read_videos(entries: tuple, split: str) -> list[VideoData]:
    """Every video of every source, names made unique by a source prefix when needed."""
    videos = [v for s in sources(entries, split) for v in read_source(s)]
    names = [v.name for v in videos]
    if len(set(names)) != len(names):
        raise ValueError(
            "two data sources hold videos of the same name; give each source its own folder names"
        )
    return videos


def lr_factor(step: int, warmup: int, total: int, floor: float) -> float:
    """Linear warm-up to 1, then cosine decay to ``floor`` at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def decay_groups(params: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """AdamW parameter groups: weight decay on weight matrices and kernels, not on norms and
    biases."""
    return [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]


def balance_ratio(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Square root of each column's negative/positive ratio: the weight of a rare positive
    class that does not push every prediction towards 0.5."""
    return np.sqrt(negatives / np.maximum(positives, 1.0))


class Trainer:
    """Everything one training process holds; `fit` runs the remaining epochs.

    Args:
        config: the run's configuration.
        info: this process's place in a torchrun world (None: a world of one).
        train_videos: training videos read elsewhere (``adapt``'s pseudo-labelled tracks),
            used instead of ``data.train``; every process passes the same list.
    """

    def __init__(
        self,
        config: TrainConfig,
        info: distributed.DistInfo | None = None,
        train_videos: list[VideoData] | None = None,
    ) -> None:
        self.config, run = config, config.run
        self.info = info or distributed.DistInfo()
        self.device = distributed.device_for(run.device)
        if run.threads:
            torch.set_num_threads(run.threads)
        if not config.data.train and train_videos is None:
            raise ValueError("no training data: give --train DIR or data.train in the config")
        torch.manual_seed(run.seed)
        self.model = AffectModel(config.model).to(self.device)
        if run.init_weights and not run.resume:
            self._init_weights(Path(run.init_weights))
        cache = run.feature_cache
        self.cached = (
            config.model.freeze_early_stages and not run.pixel_augment if cache is None else cache
        )
        self.split = FrozenSplit(self.model) if self.cached else None
        self.step_model = StepModel(self.model, self.split)
        self.ddp = distributed.wrap(self.step_model, self.info, self.device)

        videos = (
            train_videos
            if train_videos is not None
            else read_videos(config.data.train, config.data.train_split)
        )
        if len(videos) < self.info.world_size:
            raise ValueError(
                f"{len(videos)} training videos cannot be shared by "
                f"{self.info.world_size} processes; start fewer processes"
            )
        self.train_videos = videos[self.info.rank :: self.info.world_size]
        self.val_videos: list[VideoData] = []
        if self.info.is_main:
            val = config.data.val or tuple(e for e in config.data.train if not isinstance(e, dict))
            self.val_videos = read_videos(val, config.data.val_split) if val else []

        self.loss = MultiTaskLoss(
            config.model.tasks,
            {t: getattr(run, f"{t}_weight") for t in TASKS},
            pos_weight=self._pos_weights() if run.pos_weight else None,
            focal_gamma=run.focal_gamma,
            emi_mse_weight=run.emi_mse_weight,
        )
        self.optimizer = torch.optim.AdamW(
            decay_groups(self.model.trainable_parameters(), run.weight_decay), lr=run.lr
        )
        total = run.epochs * run.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, run.warmup_steps, total, run.min_lr / run.lr)
        )
        self.step, self.epoch = 0, 0
        self.best = -math.inf
        self.history: list[dict] = []
        if run.resume:
            self._resume(Path(run.resume))
        self.cache = self._cache(self.train_videos)
        self.val_cache = self._cache(self.val_videos)

    @property
    def out(self) -> Path:
        return Path(self.config.run.out)

    def fit(self, until_epoch: int | None = None) -> list[dict]:
        """Run the remaining epochs (up to ``until_epoch`` if given); returns the metrics
        history, one record per epoch."""
        run = self.config.run
        if self.info.is_main:
            self.config.save(self.out)
            if not self.history:
                self._record({"epoch": 0, "step": 0, **self.validate()})
        finishing = self.epoch < run.epochs
        for epoch in range(self.epoch, min(run.epochs, until_epoch or run.epochs)):
            losses = self.train_epoch(epoch)
            self.epoch = epoch + 1
            if self.info.is_main:
                self._record(
                    {
                        "epoch": self.epoch,
                        "step": self.step,
                        "lr": self.scheduler.get_last_lr()[0],
                        **losses,
                        **self.validate(),
                    }
                )
                self._save()
            distributed.barrier(self.info)
        finished = finishing and self.epoch == run.epochs
        if self.info.is_main and finished and run.calibrate and self.val_videos:
            self.calibrate()
        if self.info.is_main and self.config.data.test and self.epoch == run.epochs:
            self.test()
        return self.history

    def calibrate(self) -> dict:
        """Fold the validation-best decision thresholds into the best checkpoint
        (`calibration`); writes and returns ``calibration.json``'s record: the thresholds and
        the validation scores before and after."""
        best = load_checkpoint(self.out / BEST).to(self.device)
        tasks = self.config.model.tasks
        predictions = self._predict_with(best, self.val_videos, self.val_cache)
        before = score(predictions, self.val_videos, tasks)
        thresholds = calibration.calibrate(best, predictions, self.val_videos)
        after = score(
            self._predict_with(best, self.val_videos, self.val_cache), self.val_videos, tasks
        )
        save_checkpoint(best, self.out / BEST)
        record = {"thresholds": thresholds, "val_before": before, "val_after": after}
        (self.out / CALIBRATION_FILE).write_text(json.dumps(record, indent=1) + "\n")
        LOG.info("calibrated thresholds: %s", thresholds)
        return record

    def test(self) -> dict[str, float]:
        """Score the best checkpoint on the held-out ``data.test`` videos once; the scores go
        to ``test_metrics.json`` and are returned."""
        data = self.config.data
        videos = read_videos(data.test, data.test_split)
        best = load_checkpoint(self.out / BEST).to(self.device)
        predictions = self._predict_with(best, videos, self._cache(videos))
        scores = score(predictions, videos, self.config.model.tasks)
        scores["videos"] = len(videos)
        (self.out / TEST_FILE).write_text(json.dumps(scores, indent=1) + "\n")
        LOG.info("held-out test: %s", {k: round(v, 4) for k, v in scores.items() if "/" not in k})
        return scores

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of steps; returns the mean losses ``loss`` and ``loss/<task>``."""
        run = self.config.run
        # each epoch draws from seeds of its own, so a resumed run repeats an uninterrupted one
        sampler = SegmentSampler(
            [v.num_frames for v in self.train_videos],
            run.segment_length,
            self.config.model.window,
            self.config.model.time_patch,
            seed=(run.seed, self.info.rank, epoch),
        )
        torch.manual_seed(
            int(np.random.SeedSequence((run.seed, self.info.rank, epoch)).generate_state(1)[0])
        )
        self.ddp.train()  # AffectModel.train keeps the frozen stages in eval mode
        if run.freeze_norm:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        sums: dict[str, float] = {}
        first = self.step
        bar = tqdm(
            range(run.steps_per_epoch),
            desc=f"epoch {epoch + 1}/{run.epochs}",
            disable=not (run.progress and self.info.is_main),
            leave=False,
        )
        for _ in bar:
            video_idx, frames = sampler.sample(run.batch_size)
            outputs = self.ddp(self._inputs(video_idx, frames))
            labels, masks = self._labels(video_idx, frames)
            loss, parts = self.loss(outputs, labels, masks)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if run.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.trainable_parameters(), run.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            for key, value in {
                "loss": float(loss.detach()),
                **{f"loss/{t}": v for t, v in parts.items()},
            }.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(loss=f"{sums['loss'] / (self.step - first):.3f}")
        means = {k: v / run.steps_per_epoch for k, v in sums.items()}
        return distributed.mean_over_ranks(means, self.info, self.device)

    def validate(self) -> dict[str, float]:
        """ABAW scores on the validation videos (empty without any), prefixed ``val/``."""
        if not self.val_videos:
            return {}
        predictions = predict_videos(
            self.model, self.val_videos, self._encode_video, self.config.run.val_batch
        )
        return {
            f"val/{k}": v
            for k, v in score(predictions, self.val_videos, self.config.model.tasks).items()
        }

    def _predict_with(
        self,
        model: AffectModel,
        videos: list[VideoData],
        cache: dict[str, dict[str, torch.Tensor]],
    ) -> dict[str, dict[str, np.ndarray]]:
        """`predict_videos` of another model of this run (e.g. the best checkpoint), whose
        frozen stages, and so the cached prefixes ``cache`` of ``videos``, are the trainer's."""
        # the encoding helpers read self.model / self.split / self.val_cache: point them there
        saved = self.model, self.split, self.val_cache
        self.model, self.val_cache = model, cache
        self.split = FrozenSplit(model) if self.cached else None
        try:
            return predict_videos(model, videos, self._encode_video, self.config.run.val_batch)
        finally:
            self.model, self.split, self.val_cache = saved

    def _encode_video(self, video: VideoData) -> dict[str, torch.Tensor]:
        """Encoder maps of every frame of a validation video."""
        frames = np.arange(video.num_frames)
        with torch.no_grad():
            if self.cached:
                return self.split.suffix(
                    {k: v.to(self.device) for k, v in self.val_cache[video.name].items()}
                )
            parts = [
                self.model.encode(self._load(video, chunk))
                for chunk in np.array_split(frames, -(-len(frames) // self.config.run.cache_batch))
            ]
        return {n: torch.cat([p[n] for p in parts]) for n in parts[0]}

    def _inputs(self, video_idx: np.ndarray, frames: np.ndarray) -> dict[str, torch.Tensor]:
        """A step's segments: {key: (B, T, ...)} cached prefixes or (augmented) crops."""
        if self.cached:
            keys = self.cache[self.train_videos[video_idx[0]].name].keys()
            segments = {
                k: torch.stack(
                    [
                        self.cache[self.train_videos[v].name][k][f]
                        for v, f in zip(video_idx, frames, strict=True)
                    ]
                )
                for k in keys
            }
            segments = {k: v.to(self.device).float() for k, v in segments.items()}
            return augment_features(segments, self.config.run.feature_noise)
        clips = torch.stack(
            [self._load(self.train_videos[v], f) for v, f in zip(video_idx, frames, strict=True)]
        )
        return {IMAGE: augment_pixels(clips) if self.config.run.pixel_augment else clips}

    def _labels(
        self, video_idx: np.ndarray, frames: np.ndarray
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Labels and masks of each window's newest frame, in `StepModel` output order."""
        newest = frames[:, self.config.model.window - 1 :]
        labels, masks = {}, {}
        for task in self.config.model.tasks:
            rows = [
                (self.train_videos[v].labels[task][f], self.train_videos[v].masks[task][f])
                for v, f in zip(video_idx, newest, strict=True)
            ]
            labels[task] = torch.from_numpy(np.concatenate([r[0] for r in rows])).to(self.device)
            masks[task] = torch.from_numpy(np.concatenate([r[1] for r in rows])).to(self.device)
        return labels, masks

    def _load(self, video: VideoData, frames: np.ndarray) -> torch.Tensor:
        model = self.model
        return load_frames(video, frames, model.config.input_size, model.mean, model.std).to(
            self.device
        )

    def _cache(self, videos: list[VideoData]) -> dict[str, dict[str, torch.Tensor]]:
        if not self.cached or not videos:
            return {}
        by_name = {v.name: v for v in videos}
        return build_cache(
            self.split,
            [(v.name, v.num_frames) for v in videos],
            lambda name, f: self._load(by_name[name], f),
            self.config.run.cache_batch,
            self.config.run.progress,
        )

    def _pos_weights(self) -> dict[str, torch.Tensor]:
        """{task: square root of each column's negative/positive ratio in the training
        labels, capped} for the binary tasks (AU, A/H): rare classes weigh more, but not so
        much that every prediction hovers around 0.5."""
        weights = {}
        for task in ("au", "ah"):
            if task not in self.config.model.tasks:
                continue
            masks = [v.masks[task].reshape(v.num_frames, -1) for v in self.train_videos]
            pos = sum(
                (v.labels[task] * m).sum(axis=0)
                for v, m in zip(self.train_videos, masks, strict=True)
            )
            known = sum(m.sum(axis=0) for m in masks)
            weights[task] = torch.tensor(
                np.clip(balance_ratio(pos, known - pos), 1.0, self.config.run.max_pos_weight),
                dtype=torch.float32,
                device=self.device,
            )
        return weights

    def _record(self, record: dict) -> None:
        self.history.append(record)
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / METRICS_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        shown = {
            k: round(v, 4)
            for k, v in record.items()
            if k in ("epoch", "loss")
            or k == "val/score"
            or k.endswith(("va_ccc", "au_f1_mean", "emi_pearson_mean", "ah_f1"))
        }
        LOG.info("%s", shown)

    def _save(self) -> None:
        """Write ``last`` (with the trainer state) and, if the score improved, ``best``."""
        save_checkpoint(self.model, self.out / LAST)
        torch.save(
            {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": self.step,
                "epoch": self.epoch,
                "best": self.best,
                "history": self.history,
            },
            self.out / LAST / STATE_FILE,
        )
        current = self.history[-1].get("val/score", -self.history[-1]["loss"])
        if current > self.best:
            self.best = current
            save_checkpoint(self.model, self.out / BEST)

    def _init_weights(self, path: Path) -> None:
        """Start from the weights of checkpoint ``path`` (its config must equal the run's)."""
        saved = load_checkpoint(path)
        if replace(saved.config, backbone_weights=None) != replace(
            self.config.model, backbone_weights=None
        ):
            raise ValueError(
                f"{path} holds a model of another config than the run's; give "
                "the model section of that checkpoint's config.json"
            )
        self.model.load_state_dict(saved.state_dict())

    def _resume(self, path: Path) -> None:
        """Load weights, optimiser, schedule and counters saved by `_save`."""
        state_file = path / STATE_FILE
        if not state_file.is_file():
            raise FileNotFoundError(f"{state_file} is missing; resume from a run's {LAST} folder")
        saved = load_checkpoint(path)
        if saved.config != self.config.model:
            raise ValueError(
                f"{path} was trained with another model config; resume with the "
                "config.yaml of that run"
            )
        self.model.load_state_dict(saved.state_dict())
        state = torch.load(state_file, map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.best, self.history = state["best"], state["history"]
