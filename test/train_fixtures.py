"""Tiny data and configs shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.synth.dataset import DatasetConfig, write_dataset
from affect_perception.train.config import TrainConfig

# A small, quick model: 128 px crops, narrow maps and mixers.
TINY_MODEL = {
    "variant": "single",
    "input_size": 128,
    "hidden_dim": 32,
    "cache_channels": 16,
    "head_dropout": 0.0,
}


def synth_root(folder: Path, videos: int = 8, frames: int = 24, seed: int = 3) -> Path:
    """A synthetic data set in the Aff-Wild2 layout, half of it in each split."""
    write_dataset(folder, DatasetConfig(videos=videos, frames=frames, seed=seed, val_ratio=0.5))
    return folder


def tiny_config(root: Path, out: Path, **run: object) -> TrainConfig:
    """A run on ``root`` that validates on its own training split (a reliable signal)."""
    settings = {
        "out": str(out),
        "epochs": 2,
        "steps_per_epoch": 4,
        "batch_size": 8,
        "segment_length": 12,
        "warmup_steps": 1,
        "threads": 1,
        "progress": False,
        "cache_batch": 16,
        **run,
    }
    return TrainConfig.from_dict(
        {
            "model": TINY_MODEL,
            "data": {"train": [str(root)], "val": [str(root)], "val_split": "Train_Set"},
            "run": settings,
        }
    )


def write_frames(folder: Path, numbers: list[int], size: int = 16) -> None:
    """Grey crops ``00001.jpg``... for the given 1-based frame numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        image = np.full((size, size, 3), 10 * n % 256, dtype=np.uint8)
        cv2.imwrite(str(folder / f"{n:05d}.jpg"), image)


def write_table(path: Path, header: list[str] | tuple[str, ...], rows: list[list[float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def handmade_root(root: Path) -> Path:
    """Two videos with missing markers, a missing image and tasks missing per video.

    ``a``: 4 frames, frame 3 has no image; VA row 2 is -5, AU row 4 is -1 (all AUs), AU1 of
    row 1 is -1; A/H row 1 is -1; EMI row. ``b``: 3 frames, VA only.
    """
    write_frames(root / "cropped_aligned" / "a", [1, 2, 4])
    write_frames(root / "cropped_aligned" / "b", [1, 2, 3])
    split = "Train_Set"
    write_table(
        root / "VA_Estimation_Challenge" / split / "a.txt",
        ("valence", "arousal"),
        [[0.1, 0.2], [-5, -5], [0.3, 0.4], [0.5, 0.6]],
    )
    write_table(
        root / "VA_Estimation_Challenge" / split / "b.txt",
        ("valence", "arousal"),
        [[0.1, -0.1], [0.2, -0.2], [0.3, -0.3]],
    )
    au_rows = [[1] * 12, [0] * 12, [1] * 12, [-1] * 12]
    au_rows[0][0] = -1
    write_table(root / "AU_Detection_Challenge" / split / "a.txt", AU_NAMES, au_rows)
    write_table(root / "AH_Labels" / split / "a.txt", ("hesitancy",), [[-1], [1], [0], [1]])
    write_table(
        root / "EMI_Labels" / "train_split.csv",
        ("Filename", *EMI_NAMES),
        [["a.mp4", 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]],
    )
    return root
