"""Frame-level backbone pretraining on synthetic faces: the stand-in for pretrained weights.

No pretrained MobileNetV4 can be downloaded here, and a random frozen backbone carries little
of what the temporal model needs (docs/TRAINING.md). This stage trains the whole backbone,
one frame at a time, to read from a face crop what the generator drew: valence and arousal,
the 12 AUs (presence and intensity), head pose, gaze, eyelid closure and the hesitant mouth
pull (the ``Face_State`` files `affect-perception synth` writes). Its weights go to a timm
safetensors file that ``model.backbone_weights`` loads; the temporal training then freezes
the early stages as the paper does. Real-data users pretrain on their own frame labels (VA
and AUs) the same way, without the state targets.

Per frame the encoder is trained once per epoch on a random view (shift, scale, rotation,
horizontal flip with pose and gaze mirrored, brightness, contrast, noise), so it also learns
the slack of a detector's boxes that the aligned training crops lack.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from affect_perception.config_checks import require_positive
from affect_perception.evaluation import metrics
from affect_perception.labels import AU_MISSING
from affect_perception.synth.dataset import STATE_COLUMNS, STATE_DIR, VA_DIR
from affect_perception.train.datasets import DataSource, read_crops, read_source
from affect_perception.train.trainer import balance_ratio, decay_groups, lr_factor

LOG = logging.getLogger(__name__)

WEIGHTS_FILE = "backbone.safetensors"
METRICS_FILE = "pretrain_metrics.jsonl"
# State columns that change sign when the crop is mirrored (yaw, roll, horizontal gaze, the
# side of the mouth pull).
MIRRORED = ("yaw", "roll", "gaze_x", "hesitation_x")
# Small cues, weighted ``cue_weight`` in the state loss: the iris moves a few pixels, and the
# hesitant mouth pull is rare and on one side.
SMALL_CUES = ("gaze_x", "gaze_y", "hesitation", "hesitation_x")
# Largest random view change: shift (fraction of the crop), log-scale, rotation (degrees).
SHIFT, SCALE, ROTATE_DEG = 0.06, 0.08, 6.0
# Largest brightness (added) and contrast (factor - 1) change, and pixel noise std, in
# normalised units.
BRIGHTNESS, CONTRAST, NOISE = 0.2, 0.25, 0.05


@dataclass(frozen=True)
class PretrainConfig:
    """One pretraining run.

    Attributes:
        train: data roots in the ``synth`` layout; their ``Train_Set`` frames train.
        val_split: the split of the same roots scored after each epoch.
        out: output folder (weights, metrics).
        backbone: timm model name (the affect model's ``backbone``).
        input_size: crop side in pixels (the affect model's ``input_size``).
        epochs: passes over the training frames.
        frame_step: use every ``frame_step``-th labelled frame of each video (neighbouring
            frames are near copies; 2 halves the cost of an epoch).
        batch_size: frames per step.
        lr: peak AdamW learning rate (warm-up, then cosine decay to 1 % of it).
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps.
        state_weight: weight of the ``Face_State`` regression beside the VA and AU losses.
        cue_weight: extra weight of the small cues inside it (``SMALL_CUES``: the gaze and
            the hesitant mouth pull).
        seed: initialisation, order and augmentation seed.
        threads: torch CPU threads (None: torch's default).
        progress: show a tqdm bar.
    """

    train: tuple[str, ...] = ()
    val_split: str = "Validation_Set"
    out: str = "runs/pretrain"
    backbone: str = "mobilenetv4_conv_small"
    input_size: int = 128
    epochs: int = 2
    frame_step: int = 1
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 30
    state_weight: float = 1.0
    cue_weight: float = 4.0
    seed: int = 0
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", tuple(self.train))
        if not self.train:
            raise ValueError("no pretraining data: give --train DIR (a synth output folder)")
        require_positive(self, ("input_size", "epochs", "frame_step", "batch_size"))


@dataclass
class FrameSet:
    """Every labelled frame of a split in memory.

    Attributes:
        images: (N, S, S, 3) uint8 RGB crops.
        va: (N, 2) valence, arousal.
        au: (N, 12) 0/1; au_mask (N, 12) where known.
        state: (N, len(STATE_COLUMNS)) the renderer's state, or (N, 0) without state files.
    """

    images: np.ndarray
    va: np.ndarray
    au: np.ndarray
    au_mask: np.ndarray
    state: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def read_frames(root: str | Path, split: str, size: int, step: int = 1) -> FrameSet:
    """Every ``step``-th frame of ``split`` under a synth-layout root whose VA label exists."""
    root = Path(root)
    source = DataSource.from_root(root, split)
    if source.va is None:
        raise FileNotFoundError(f"{root} has no VA labels for {split}; pretraining needs them")
    state_dir = root / STATE_DIR / split
    parts: list[tuple[np.ndarray, ...]] = []
    for video in read_source(source):
        keep = np.flatnonzero(video.present & video.masks["va"])[::step]
        state = (
            _read_state(state_dir / f"{video.name}.txt", video.num_frames)[keep]
            if state_dir.is_dir()
            else np.zeros((len(keep), 0), np.float32)
        )
        parts.append(
            (
                read_crops(video, keep, size),
                video.labels["va"][keep],
                video.labels["au"][keep],
                video.masks["au"][keep],
                state,
            )
        )
    if not parts:
        raise FileNotFoundError(f"{root} holds no labelled frames for {split}")
    return FrameSet(*(np.concatenate(p) for p in zip(*parts, strict=True)))


def _read_state(path: Path, count: int) -> np.ndarray:
    header = path.read_text().split("\n", 1)[0].strip().split(",")
    if tuple(header) != STATE_COLUMNS:
        raise ValueError(f"{path}: header must be {','.join(STATE_COLUMNS)}")
    values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    if len(values) != count:
        raise ValueError(f"{path} has {len(values)} rows for {count} frames")
    return values


class FrameReader(nn.Module):
    """The timm backbone (all three scales) with a linear read-out of the pooled maps."""

    def __init__(self, backbone: str, outputs: int) -> None:
        super().__init__()
        self.body = timm.create_model(
            backbone, pretrained=False, features_only=True, out_indices=(-3, -2, -1)
        )
        self.head = nn.Linear(sum(self.body.feature_info.channels()), outputs)
        config = timm.data.resolve_data_config({}, model=self.body)
        self.register_buffer("mean", torch.tensor(config["mean"]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(config["std"]).view(1, 3, 1, 1))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, S, S, 3) -> normalised float (B, 3, S, S)."""
        return (images.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last, as the parameters (`Pretrainer`): about 15 % faster on CPU
        pooled = [
            m.mean(dim=(2, 3)) for m in self.body(x.contiguous(memory_format=torch.channels_last))
        ]
        return self.head(torch.cat(pooled, dim=1))


def augment(
    x: torch.Tensor, state: torch.Tensor, mirrored: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random view of each normalised crop, and its state with mirrored columns negated."""
    b = x.shape[0]

    def uniform(scale: float, *shape: int) -> torch.Tensor:
        return (2 * torch.rand(b, *shape, generator=generator) - 1) * scale

    angle = uniform(math.radians(ROTATE_DEG))
    scale = torch.exp(uniform(SCALE))
    flip = torch.rand(b, generator=generator) < 0.5
    sign = torch.where(flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * sign, -sin, uniform(SHIFT)], 1),
            torch.stack([sin * sign, cos, uniform(SHIFT)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + uniform(CONTRAST, 1, 1, 1)) + mean + uniform(BRIGHTNESS, 1, 1, 1)
    x = x + torch.randn(x.shape, generator=generator) * uniform(NOISE, 1, 1, 1).abs()
    state = torch.where(flip[:, None] & mirrored[None], -state, state)
    return x, state


class Pretrainer:
    """Train a `FrameReader` on the frames of ``config.train`` and save its backbone."""

    def __init__(self, config: PretrainConfig) -> None:
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.train = _join(
            [
                read_frames(r, "Train_Set", config.input_size, config.frame_step)
                for r in config.train
            ]
        )
        self.val = _join(
            [
                read_frames(r, config.val_split, config.input_size)
                for r in config.train
                if (Path(r) / VA_DIR / config.val_split).is_dir()
            ]
        )
        width = self.train.state.shape[1]
        self.state_mean = torch.from_numpy(self.train.state.mean(axis=0)) if width else None
        self.state_std = (
            torch.from_numpy(self.train.state.std(axis=0)).clamp(min=1e-3) if width else None
        )
        self.mirrored = torch.tensor([c in MIRRORED for c in STATE_COLUMNS][:width])
        self.state_weights = torch.tensor(
            [config.cue_weight if c in SMALL_CUES else 1.0 for c in STATE_COLUMNS][:width]
        )
        self.model = FrameReader(config.backbone, 2 + 12 + width).to(
            memory_format=torch.channels_last
        )
        labelled = self.train.au_mask
        self.au_pos_weight = torch.from_numpy(
            balance_ratio(
                (self.train.au * labelled).sum(0), ((1 - self.train.au) * labelled).sum(0)
            )
        ).float()
        self.optimizer = torch.optim.AdamW(
            decay_groups(list(self.model.parameters()), config.weight_decay), lr=config.lr
        )
        self.steps_per_epoch = len(self.train) // config.batch_size
        total = config.epochs * self.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, config.warmup_steps, total, 0.01)
        )

    def fit(self) -> list[dict]:
        """Train every epoch, validate after each; write the weights and the metrics."""
        out = Path(self.config.out)
        out.mkdir(parents=True, exist_ok=True)
        history = []
        generator = torch.Generator().manual_seed(self.config.seed)
        for epoch in range(self.config.epochs):
            loss = self._epoch(epoch, generator)
            record = {"epoch": epoch + 1, "loss": loss, **self.validate()}
            history.append(record)
            LOG.info("pretrain %s", {k: round(v, 4) for k, v in record.items()})
            with open(out / METRICS_FILE, "a") as f:
                f.write(json.dumps(record) + "\n")
        save_file(
            {k: v.contiguous() for k, v in self.model.body.state_dict().items()},
            str(out / WEIGHTS_FILE),
        )
        (out / "pretrain_config.json").write_text(json.dumps(asdict(self.config), indent=1))
        return history

    def _epoch(self, epoch: int, generator: torch.Generator) -> float:
        self.model.train()
        order = torch.randperm(len(self.train), generator=generator)
        total = 0.0
        size = self.config.batch_size
        bar = tqdm(
            range(self.steps_per_epoch),
            desc=f"pretrain {epoch + 1}/{self.config.epochs}",
            disable=not self.config.progress,
            leave=False,
        )
        for step in bar:
            idx = order[step * size : (step + 1) * size].numpy()
            x = self.model.normalise(torch.from_numpy(self.train.images[idx]))
            state = self._state(idx)
            x, state = augment(x, state, self.mirrored, generator)
            loss = self._loss(self.model(x), idx, state)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach())
            bar.set_postfix(loss=f"{total / (step + 1):.3f}")
        return total / self.steps_per_epoch

    def _state(self, idx: np.ndarray) -> torch.Tensor:
        if self.state_mean is None:
            return torch.zeros(len(idx), 0)
        return (torch.from_numpy(self.train.state[idx]) - self.state_mean) / self.state_std

    def _loss(self, out: torch.Tensor, idx: np.ndarray, state: torch.Tensor) -> torch.Tensor:
        va = torch.from_numpy(self.train.va[idx])
        au = torch.from_numpy(self.train.au[idx])
        mask = torch.from_numpy(self.train.au_mask[idx]).float()
        va_loss = F.mse_loss(torch.tanh(out[:, :2]), va)
        au_loss = (
            F.binary_cross_entropy_with_logits(
                out[:, 2:14], au, pos_weight=self.au_pos_weight, reduction="none"
            )
            * mask
        ).sum() / mask.sum().clamp(min=1)
        state_loss = (
            ((out[:, 14:] - state) ** 2 * self.state_weights).mean()
            if state.shape[1]
            else out.sum() * 0
        )
        return 4 * va_loss + au_loss + self.config.state_weight * state_loss

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Frame-level VA CCC and AU F1 on the validation frames (empty without any)."""
        if self.val is None:
            return {}
        self.model.eval()
        outs = [
            self.model(self.model.normalise(torch.from_numpy(self.val.images[s : s + 256])))
            for s in range(0, len(self.val), 256)
        ]
        out = torch.cat(outs).numpy()
        au = np.where(self.val.au_mask, self.val.au, AU_MISSING)
        scores = {
            "val/va_ccc": metrics.va_ccc(np.tanh(out[:, :2]), self.val.va)["va_ccc"],
            "val/au_f1_mean": metrics.au_f1(1 / (1 + np.exp(-out[:, 2:14])), au)["au_f1_mean"],
        }
        if self.state_mean is not None and self.val.state.shape[1]:
            pred = out[:, 14:] * self.state_std.numpy() + self.state_mean.numpy()
            residual = ((pred - self.val.state) ** 2).mean(0)
            r2 = 1 - residual / self.val.state.var(0).clip(min=1e-6)
            scores.update(
                {
                    f"val/r2/{c}": float(v)
                    for c, v in zip(STATE_COLUMNS, r2, strict=True)
                    if not c.endswith("_level")
                }
            )
        return scores


def _join(sets: list[FrameSet]) -> FrameSet | None:
    """One set of the frames of several (None for none)."""
    if not sets:
        return None
    return FrameSet(
        *(np.concatenate([getattr(s, f.name) for s in sets]) for f in fields(FrameSet))
    )
