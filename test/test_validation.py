"""Validation scores: EMI per video for Hume-style rows, per frame for per-frame labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr

from affect_perception.labels import TASK_DIMS
from affect_perception.train.datasets import VideoData
from affect_perception.train.validation import score


def _video(name: str, emi: np.ndarray, per_frame: bool, known: np.ndarray) -> VideoData:
    count = len(emi)
    labels = {t: np.zeros((count, d), np.float32) for t, d in TASK_DIMS.items()}
    masks = {t: np.zeros((count, d) if t == "au" else count, bool) for t, d in TASK_DIMS.items()}
    labels["emi"], masks["emi"] = emi.astype(np.float32), known
    return VideoData(name, Path(name), np.ones(count, bool), labels, masks, per_frame)


def test_per_frame_emi_is_scored_over_labelled_frames() -> None:
    rng = np.random.default_rng(0)
    emi = [rng.uniform(size=(10, 6)), rng.uniform(size=(12, 6))]
    known = [np.arange(10) != 3, np.ones(12, bool)]
    videos = [_video(n, e, True, k) for n, e, k in zip("ab", emi, known, strict=True)]
    pred = {
        v.name: {"emi": e + rng.normal(scale=0.2, size=e.shape)}
        for v, e in zip(videos, emi, strict=True)
    }
    got = score(pred, videos, ("emi",))
    flat_pred = np.concatenate([pred["a"]["emi"][known[0]], pred["b"]["emi"]])
    flat_label = np.concatenate([emi[0][known[0]], emi[1]])
    want = np.mean([pearsonr(flat_pred[:, i], flat_label[:, i]).statistic for i in range(6)])
    assert got["emi_pearson_mean"] == pytest.approx(want, abs=1e-5)


def test_per_video_emi_is_scored_on_video_means() -> None:
    rng = np.random.default_rng(1)
    rows = rng.uniform(size=(5, 6))
    videos = [
        _video(f"v{i}", np.repeat(r[None], 8, axis=0), False, np.ones(8, bool))
        for i, r in enumerate(rows)
    ]
    frames = {v.name: {"emi": rng.uniform(size=(8, 6))} for v in videos}
    got = score(frames, videos, ("emi",))
    means = np.stack([frames[v.name]["emi"].mean(axis=0) for v in videos])
    want = np.mean([pearsonr(means[:, i], rows[:, i]).statistic for i in range(6)])
    assert got["emi_pearson_mean"] == pytest.approx(want, abs=1e-5)
