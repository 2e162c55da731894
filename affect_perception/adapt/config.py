"""The settings of one adapt run, each with its default and help declared once (torch-free:
``affect-perception adapt --help`` builds its flags from these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVICES = ("auto", "cpu", "cuda")


def _setting(default: Any, help_: str) -> Any:
    """A field with its default and its flag's help."""
    return field(default=default, metadata={"help": help_})


@dataclass(frozen=True)
class AdaptConfig:
    """One adapt run (see docs/TRAINING.md "From your own robot's recordings").

    ``recordings`` (rosbag2 folders, image folders or video files), ``out`` (output folder)
    and ``model`` (a model folder, ONNX + model.json, or a checkpoint folder) come from
    ``--bag``, ``--out`` and ``--model``; every other field is a flag of its own name.
    """

    recordings: tuple[Path, ...]
    out: Path
    model: Path
    seed: int = _setting(0, "seed of the split, the synthetic set and the training")
    holdout: float = _setting(0.25, "share of face tracks held out for measurement")
    teach_every: int = _setting(3, "teach every k-th face-frame of a track")
    score_threshold: float | None = _setting(
        None, "face-detector threshold (default: the runtime's)"
    )
    topic: str | None = _setting(None, "bag image topic (default: each bag's only one)")
    epochs: int = _setting(3, "fine-tune epochs")
    steps_per_epoch: int = _setting(40, "optimiser steps per epoch")
    batch_size: int = _setting(8, "segments per step")
    segment_length: int = _setting(16, "frames per segment (shorter tracks are left out)")
    lr: float = _setting(1e-4, "peak learning rate (higher: faster, and more forgetting)")
    synth_videos: int = _setting(16, "synthetic videos mixed in (a quarter held out)")
    synth_frames: int = _setting(64, "frames per synthetic video")
    device: str = _setting("auto", "auto, cpu or cuda")
    threads: int | None = _setting(None, "torch CPU threads (default: torch's)")
    resume: bool = _setting(False, "continue the run in --out from its last checkpoint")
    progress: bool = _setting(True, "progress bars")

    def __post_init__(self) -> None:
        if not self.recordings:
            raise ValueError("give at least one recording with --bag")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must lie in (0, 1), got {self.holdout}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
