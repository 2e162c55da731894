"""Decision thresholds chosen on the validation videos and folded into the heads.

A binary head trained with a weighted BCE (rare classes weigh more) has its F1-best threshold
away from 0.5, each AU at its own. `calibrate` finds, per AU and for A/H, the threshold that
maximises the task's F1 over the validation frames (each AU's F1; A/H's macro F1, its
headline) and moves the head's bias so that the probability
crosses 0.5 exactly there. The checkpoint, and the ONNX export of it, then carries the
calibration: the node, the evaluation and anyone thresholding at 0.5 make the
validation-best decision with no extra setting (ABAW entries tune per-AU thresholds on
validation the same way).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from affect_perception.evaluation import metrics
from affect_perception.labels import AU_NAMES
from affect_perception.model.affect_model import AffectModel
from affect_perception.train.datasets import VideoData

# Thresholds searched: kept away from 0 and 1, so that a few validation frames cannot make a
# head fire always or never.
GRID = np.round(np.arange(0.1, 0.905, 0.02), 2)
# Binary tasks and the names of their outputs.
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {"au": AU_NAMES, "ah": ("A/H",)}


def ah_macro_f1(pred: np.ndarray, label: np.ndarray) -> float:
    """A/H's headline, macro F1 (`metrics.ah_f1`)."""
    return metrics.ah_f1(pred, label)["ah_f1"]


# The F1 each binary task's threshold maximises: its score in evaluation.
TASK_SCORES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "au": metrics.f1_binary,
    "ah": ah_macro_f1,
}


def best_threshold(
    prob: np.ndarray,
    label: np.ndarray,
    score: Callable[[np.ndarray, np.ndarray], float] = metrics.f1_binary,
) -> float:
    """The `GRID` threshold with the highest ``score`` (default: F1) of ``prob`` against 0/1
    ``label``; of equal scores, the one nearest 0.5."""
    grid = GRID[np.argsort(np.abs(GRID - 0.5), kind="stable")]
    scores = [score((prob >= t).astype(np.float64), label) for t in grid]
    return float(grid[int(np.argmax(scores))])


def calibrate(
    model: AffectModel, predictions: dict[str, dict[str, np.ndarray]], videos: list[VideoData]
) -> dict[str, dict[str, float]]:
    """Move the decision point of each binary task of ``model`` to its best threshold
    (`TASK_SCORES`).

    Args:
        model: the model whose heads are changed in place.
        predictions: {video name: {task: (F, dim) probabilities}} of ``model`` (as
            `validation.predict_videos` gives them).
        videos: the validation videos; a task without labels in them is left alone, and so
            is an output without any labelled frame (threshold 0.5).

    Returns:
        {task: {output name: the threshold that now reads 0.5}}.
    """
    chosen: dict[str, dict[str, float]] = {}
    for task, names in OUTPUT_NAMES.items():
        labelled = [v for v in videos if v.masks[task].any()]
        if task not in model.config.tasks or not labelled:
            continue
        prob = np.concatenate(
            [predictions[v.name][task].reshape(v.num_frames, -1) for v in labelled]
        )
        label = np.concatenate([v.labels[task].reshape(v.num_frames, -1) for v in labelled])
        mask = np.concatenate([v.masks[task].reshape(v.num_frames, -1) for v in labelled])
        thresholds = np.array(
            [
                best_threshold(prob[mask[:, i], i], label[mask[:, i], i], TASK_SCORES[task])
                if mask[:, i].any()
                else metrics.BINARY_THRESHOLD
                for i in range(len(names))
            ],
            np.float32,
        )
        model.heads.move_decision_point(task, torch.from_numpy(thresholds))
        chosen[task] = {n: round(float(t), 2) for n, t in zip(names, thresholds, strict=True)}
    return chosen
