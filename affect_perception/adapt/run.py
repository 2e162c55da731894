"""One adapt run: tracks and teachings, a synthetic set, the fine-tune, the measurement and the
export, each kept in the output folder so a run stopped part-way resumes where it stopped.

Layout of ``out``: ``data/`` (the tracks' crops and ``teachings.json``, `collect`), ``synth/``
(a small synthetic set: its Train_Set is mixed into every epoch so the outputs the teachers
do not cover keep what they learnt, its Validation_Set is the synthetic held-out measure),
``start/`` (the starting model as a checkpoint), ``run/`` (the `Trainer` run: config.yaml,
metrics.jsonl, checkpoints/last), ``model/`` (the adapted model folder: ONNX, model.json with
provenance and ``adapted``, MODEL_CARD.md) and ``adapt_report.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from affect_perception import provenance
from affect_perception.adapt.collect import TEACHINGS_FILE, CollectConfig, collect
from affect_perception.adapt.config import AdaptConfig
from affect_perception.adapt.recordings import Recording
from affect_perception.adapt.targets import (
    COVERED,
    au_scales,
    column_masks,
    neutrals,
    track_summary,
    track_video,
)
from affect_perception.figures import figure
from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.checkpoint import CONFIG_FILE, load_checkpoint, save_checkpoint
from affect_perception.model.export import export_onnx
from affect_perception.model.imports.onnx_folder import model_from_onnx
from affect_perception.model_card import write_section
from affect_perception.model_files import read_model_json
from affect_perception.runtime.detection.base import DetectorConfig
from affect_perception.synth.dataset import CROPS_DIR, MANIFEST, DatasetConfig, write_dataset
from affect_perception.train import distributed
from affect_perception.train.config import RunConfig, TrainConfig
from affect_perception.train.datasets import VideoData, load_frames
from affect_perception.train.trainer import LAST, Trainer, read_videos
from affect_perception.train.validation import predict_video

LOG = logging.getLogger(__name__)

REPORT_FILE = "adapt_report.json"
# The recordings' hashes, so a resumed run checks it is given the same ones.
RECORDINGS_FILE = "recordings.json"
# model.json key of what the adaptation rests on.
ADAPTED_KEY = "adapted"
CARD_BEGIN, CARD_END = "<!-- adapt: begin -->", "<!-- adapt: end -->"
# Fewest held-out tracks a Spearman agreement is computed over.
MIN_TRACKS = 3
# Seed offset of the synthetic set, away from the seeds the demo model was trained on.
SYNTH_SEED_OFFSET = 7919
# AdaptConfig fields that go to the fine-tune's RunConfig as they are.
RUN_FIELDS = (
    "seed",
    "epochs",
    "steps_per_epoch",
    "batch_size",
    "segment_length",
    "lr",
    "threads",
    "device",
    "progress",
)
# Outputs compared with the teachers on held-out tracks: model output -> teacher signal.
AGREEMENT = {"valence": "valence", "AU12": "AU12", "Joy": "Joy"}


def start_model(path: Path) -> AffectModel:
    """The trainable starting model: a checkpoint folder loads as is; a model folder is
    rebuilt from its ONNX files (`onnx_folder`)."""
    return load_checkpoint(path) if (path / CONFIG_FILE).is_file() else model_from_onnx(path)


def start_model_info(path: Path) -> dict[str, Any]:
    """The starting model's model.json (empty for a checkpoint folder)."""
    return {} if (path / CONFIG_FILE).is_file() else read_model_json(path)


def split_tracks(names: list[str], holdout: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, held-out) track names: ``holdout`` of them, at least one each side."""
    if len(names) < 2:
        raise ValueError(
            f"the recordings hold {len(names)} usable face track(s); adapt needs "
            "at least two (one to learn from, one to measure on)"
        )
    order = np.random.default_rng(seed).permutation(len(names))
    count = min(max(1, round(holdout * len(names))), len(names) - 1)
    held = sorted(names[i] for i in order[:count])
    return [n for n in names if n not in held], held


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < MIN_TRACKS or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


@torch.no_grad()
def track_outputs(model: AffectModel, video: VideoData, device: torch.device) -> dict[str, float]:
    """A held-out track's mean valence, AU12 probability and Joy from ``model``."""
    model.eval().to(device)
    c = model.config
    maps: dict[str, list[torch.Tensor]] = {}
    for chunk in np.array_split(np.arange(video.num_frames), -(-video.num_frames // 64)):
        images = load_frames(video, chunk, c.input_size, model.mean, model.std).to(device)
        for name, value in model.encode(images).items():
            maps.setdefault(name, []).append(value)
    out = predict_video(model, {n: torch.cat(v) for n, v in maps.items()}, 256)
    return {
        "valence": float(out["va"][:, 0].mean()),
        "AU12": float(out["au"][:, AU_NAMES.index("AU12")].mean()),
        "Joy": float(out["emi"][:, EMI_NAMES.index("Joy")].mean()),
    }


def agreement(
    models: dict[str, AffectModel],
    videos: list[VideoData],
    truth: dict[str, dict[str, float]],
    device: torch.device,
) -> dict[str, Any]:
    """Spearman over held-out tracks between each model's outputs and the teachers."""
    outputs = {
        m: {v.name: track_outputs(model, v, device) for v in videos} for m, model in models.items()
    }
    names = [v.name for v in videos]
    return {
        "tracks": len(names),
        **{
            output: {
                m: _spearman(
                    [outputs[m][n][output] for n in names], [truth[n][signal] for n in names]
                )
                for m in models
            }
            for output, signal in AGREEMENT.items()
        },
    }


def synthetic_change(history: list[dict]) -> dict[str, dict[str, float]]:
    """Synthetic held-out metrics of the first (the starting model) and last epochs."""
    first, last = history[0], history[-1]
    keys = [k for k in first if k.startswith("val/") and k in last]
    return {
        k[4:]: {"before": first[k], "after": last[k], "change": last[k] - first[k]} for k in keys
    }


class Adapter:
    """The stages of one run (see module docstring), each skipped when its output exists."""

    def __init__(self, config: AdaptConfig, info: distributed.DistInfo | None = None) -> None:
        self.config = config
        self.info = info or distributed.DistInfo()
        self.out = Path(config.out)
        self.recordings = [Recording.at(p) for p in config.recordings]

    def run(self) -> dict[str, Any] | None:
        """Every stage; returns the report on the main process (None elsewhere)."""
        c = self.config
        hashes = [r.sha256() for r in self.recordings]
        if self.info.is_main:
            self._check_folder(hashes)
            model = start_model(c.model)
            save_checkpoint(model, self.out / "start")
            teachings = self._teachings(hashes, model.config.input_size)
            self._synthetic()
            (self.out / "split.json").write_text(
                json.dumps(dict(zip(("train", "heldout"), self._split(teachings), strict=True)))
                + "\n"
            )
        distributed.barrier(self.info)
        teachings = json.loads((self.out / "data" / TEACHINGS_FILE).read_text())
        split = json.loads((self.out / "split.json").read_text())
        tracks = teachings["tracks"]
        neutral = neutrals(tracks)
        scales = au_scales(tracks, neutral)
        videos = {
            n: track_video(n, tracks[n], self.out / "data" / CROPS_DIR / n, neutral[n], scales)
            for n in split["train"] + split["heldout"]
        }
        synth = [column_masks(v) for v in read_videos((str(self.out / "synth"),), "Train_Set")]
        trainer = Trainer(
            self._train_config(), self.info, [videos[n] for n in split["train"]] + synth
        )
        history = trainer.fit()
        if not self.info.is_main:
            return None
        before, after = (
            load_checkpoint(self.out / "start"),
            load_checkpoint(self.out / "run" / LAST),
        )
        truth = {n: track_summary(tracks[n], neutral[n]) for n in split["heldout"]}
        report = {
            "recordings": [
                {"path": r.path.name, "kind": r.kind, "sha256": h}
                for r, h in zip(self.recordings, hashes, strict=True)
            ],
            "start_model": str(c.model),
            "tracks": {k: len(v) for k, v in split.items()},
            "face_frames": {k: int(sum(tracks[n]["frames"] for n in v)) for k, v in split.items()},
            "outputs_adapted": {t: list(o) for t, o in COVERED.items() if o},
            "heldout_agreement": agreement(
                {"before": before, "after": after},
                [videos[n] for n in split["heldout"]],
                truth,
                trainer.device,
            ),
            "synthetic_heldout": synthetic_change(history),
            "config": {
                k: str(v) if isinstance(v, Path) else v
                for k, v in asdict(c).items()
                if k != "recordings"
            },
        }
        self._export(after, report, start_model_info(c.model))
        (self.out / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
        return report

    def _check_folder(self, hashes: list[str]) -> None:
        """A fresh run needs an empty or new folder; a resumed one the same recordings."""
        saved = self.out / RECORDINGS_FILE
        if saved.is_file() and json.loads(saved.read_text()) != hashes:
            raise ValueError(
                f"{self.out} holds an adapt run of other recordings; give a new --out folder"
            )
        if not self.config.resume and self.out.is_dir() and any(self.out.iterdir()):
            raise ValueError(
                f"{self.out} is not empty; give a new --out folder, or --resume "
                "to continue the run in it"
            )
        self.out.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(hashes) + "\n")

    def _teachings(self, hashes: list[str], input_size: int) -> dict[str, Any]:
        path = self.out / "data" / TEACHINGS_FILE
        if path.is_file():
            return json.loads(path.read_text())
        from affect_perception.realfaces.teachers.ensemble import Teachers

        c = self.config
        detector = (
            DetectorConfig()
            if c.score_threshold is None
            else DetectorConfig(score_threshold=c.score_threshold)
        )
        return collect(
            self.recordings,
            hashes,
            self.out / "data",
            CollectConfig(
                input_size=input_size,
                teach_every=c.teach_every,
                detector=detector,
                topic=c.topic,
                progress=c.progress,
            ),
            Teachers(),
        )

    def _synthetic(self) -> None:
        folder = self.out / "synth"
        if (folder / MANIFEST).is_file():
            return
        c = self.config
        write_dataset(
            folder,
            DatasetConfig(
                videos=c.synth_videos,
                frames=c.synth_frames,
                seed=c.seed + SYNTH_SEED_OFFSET,
                val_ratio=0.25,
            ),
        )

    def _split(self, teachings: dict[str, Any]) -> tuple[list[str], list[str]]:
        usable = sorted(
            n
            for n, t in teachings["tracks"].items()
            if t["frames"] >= self.config.segment_length and t["taught"]
        )
        return split_tracks(usable, self.config.holdout, self.config.seed)

    def _train_config(self) -> TrainConfig:
        c = self.config
        start = load_checkpoint(self.out / "start").config
        last = self.out / "run" / LAST
        run = RunConfig(
            out=str(self.out / "run"),
            warmup_steps=max(1, c.steps_per_epoch // 4),
            init_weights=str(self.out / "start"),
            freeze_norm=True,
            resume=str(last) if c.resume and last.is_dir() else None,
            **{name: getattr(c, name) for name in RUN_FIELDS},
        )
        return TrainConfig.from_dict(
            {
                "model": start.to_dict(),
                "data": {
                    "train": [],
                    "val": [str(self.out / "synth")],
                    "val_split": "Validation_Set",
                    "test": [],
                },
                "run": asdict(run),
            }
        )

    def _export(
        self, model: AffectModel, report: dict[str, Any], start_info: dict[str, Any]
    ) -> None:
        folder = self.out / "model"
        export_onnx(model, folder, taught_on=provenance.SYNTHETIC)
        path = folder / "model.json"
        info = json.loads(path.read_text())
        taught = (
            provenance.from_info(start_info, model.config.tasks)
            if start_info
            else info[provenance.PROVENANCE_KEY]
        )
        for task, outputs in COVERED.items():
            for output in outputs:
                if task in taught:
                    taught[task][output] = provenance.TEACHER
        info[provenance.PROVENANCE_KEY] = taught
        info[ADAPTED_KEY] = {
            k: report[k]
            for k in (
                "recordings",
                "start_model",
                "outputs_adapted",
                "tracks",
                "face_frames",
                "heldout_agreement",
                "synthetic_heldout",
            )
        }
        path.write_text(json.dumps(info, indent=2) + "\n")
        write_section(folder, CARD_BEGIN, CARD_END, card_text(report))


def card_text(report: dict[str, Any]) -> str:
    """The model card's adapt section."""
    agree = report["heldout_agreement"]
    recordings = ", ".join(f"`{r['path']}` {r['sha256'][:16]}…" for r in report["recordings"])
    lines = [
        "## Adapted to the user's recordings (`affect-perception adapt`)",
        "",
        f"Started from `{report['start_model']}`. Recordings (sha256): {recordings}.",
        f"Tracks: {report['tracks']['train']} learnt from "
        f"({report['face_frames']['train']} face-frames), {report['tracks']['heldout']} "
        f"held out ({report['face_frames']['heldout']}).",
        "",
        "Teacher-distilled outputs (the real-face teachers' pseudo-labels, docs/REALFACES.md): "
        + ", ".join(o for outs in report["outputs_adapted"].values() for o in outs)
        + ". Every other output kept its earlier training (synthetic batches mixed in); no "
        "offline teacher covers arousal, AU6/10/15/23/24, Admiration, Determination, "
        "Empathic Pain, Excitement or hesitancy.",
        "",
        f"Spearman agreement with the teachers over the {agree['tracks']} held-out tracks "
        "(n/a below 3 tracks):",
        "",
        "| output | before | after |",
        "|---|---|---|",
        *(
            f"| {o} | {figure(agree[o]['before'], '+.2f')} | {figure(agree[o]['after'], '+.2f')} |"
            for o in AGREEMENT
        ),
        "",
        "Synthetic held-out metrics (the regenerated small synthetic Validation_Set):",
        "",
        "| metric | before | after | change |",
        "|---|---|---|---|",
        *(
            f"| {k} | {v['before']:.3f} | {v['after']:.3f} | {v['change']:+.3f} |"
            for k, v in report["synthetic_heldout"].items()
            if "/" not in k
        ),
    ]
    return "\n".join(lines)
