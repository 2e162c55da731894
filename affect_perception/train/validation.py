"""Per-frame predictions over whole videos and their ABAW scores (the shared metrics module).

Every frame gets an estimate from the window ending at it, frames before the first being the
first frame repeated. EMI with a row per video (the Hume-Vidmimic2 CSV) is scored per video,
the mean of the video's frame estimates against its row; EMI labelled per frame (``synth``'s
``EMI_Frames``) is scored per frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from affect_perception.evaluation import metrics
from affect_perception.labels import AU_MISSING, VA_MISSING
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.heads import LOGIT_TASKS
from affect_perception.train.datasets import VideoData
from affect_perception.train.sampling import causal_windows

# The score of each task that model selection and the ``score`` summary use.
MAIN_METRIC: dict[str, str] = {
    "va": "va_ccc",
    "au": "au_f1_mean",
    "emi": "emi_pearson_mean",
    "ah": "ah_f1",
}


@torch.no_grad()
def predict_video(
    model: AffectModel, frame_maps: dict[str, torch.Tensor], batch: int
) -> dict[str, np.ndarray]:
    """Estimates for every frame of a video from its encoder maps.

    Args:
        model: the model (its ``temporal`` part runs here), in eval mode.
        frame_maps: {feature name: (F, C, S, S)} encoder maps of every frame.
        batch: windows per temporal pass.

    Returns:
        {task: (F, dim)} in the exported graph's ranges (AU and A/H as probabilities).
    """
    count = len(next(iter(frame_maps.values())))
    windows = torch.from_numpy(causal_windows(np.arange(count), model.config.window))
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, count, batch):
        idx = windows[start : start + batch]
        out = model.temporal({n: m[idx] for n, m in frame_maps.items()})
        for task, value in out.items():
            parts.setdefault(task, []).append(
                torch.sigmoid(value) if task in LOGIT_TASKS else value
            )
    return {t: torch.cat(v).float().cpu().numpy() for t, v in parts.items()}


def predict_videos(
    model: AffectModel,
    videos: list[VideoData],
    encode: Callable[[VideoData], dict[str, torch.Tensor]],
    batch: int,
) -> dict[str, dict[str, np.ndarray]]:
    """{video name: per-frame estimates}; ``encode(video)`` gives its per-frame encoder maps."""
    was_training = model.training
    model.eval()
    try:
        return {v.name: predict_video(model, encode(v), batch) for v in videos}
    finally:
        model.train(was_training)


def score(
    predictions: dict[str, dict[str, np.ndarray]], videos: list[VideoData], tasks: tuple[str, ...]
) -> dict[str, float]:
    """ABAW scores of every task that has labels in ``videos``, and their mean as ``score``.

    Returns:
        flat {metric: value}: ``va_ccc``, ``valence_ccc``, ``arousal_ccc``, ``au_f1_mean``,
        ``au_f1/AU1``..., ``emi_pearson_mean``, ``emi_pearson/Joy``..., ``ah_f1``
        (macro F1), ``ah_f1_positive``, ``ah_f1_weighted``, and ``score`` (the mean of the
        main metric of each scored task).
    """
    results: dict[str, float] = {}
    for task in tasks:
        labelled = [v for v in videos if v.masks[task].any()]
        if not labelled:
            continue
        pred = [predictions[v.name][task] for v in labelled]
        results.update(_flatten(_SCORERS[task](pred, labelled)))
    main = [results[MAIN_METRIC[t]] for t in tasks if MAIN_METRIC[t] in results]
    if main:
        results["score"] = float(np.mean(main))
    return results


def _va(pred: list[np.ndarray], videos: list[VideoData]) -> dict:
    label = np.concatenate(
        [np.where(v.masks["va"][:, None], v.labels["va"], VA_MISSING) for v in videos]
    )
    return metrics.va_ccc(np.concatenate(pred), label)


def _au(pred: list[np.ndarray], videos: list[VideoData]) -> dict:
    label = np.concatenate([np.where(v.masks["au"], v.labels["au"], AU_MISSING) for v in videos])
    return metrics.au_f1(np.concatenate(pred), label)


def _emi(pred: list[np.ndarray], videos: list[VideoData]) -> dict:
    if all(v.emi_per_frame for v in videos):
        keep = [v.masks["emi"] for v in videos]
        return metrics.emi_pearson(
            np.concatenate([p[k] for p, k in zip(pred, keep, strict=True)]),
            np.concatenate([v.labels["emi"][k] for v, k in zip(videos, keep, strict=True)]),
        )
    rows = [
        (p[v.masks["emi"]].mean(axis=0), v.labels["emi"][v.masks["emi"]].mean(axis=0))
        for p, v in zip(pred, videos, strict=True)
    ]
    return metrics.emi_pearson(np.stack([p for p, _ in rows]), np.stack([lab for _, lab in rows]))


def _ah(pred: list[np.ndarray], videos: list[VideoData]) -> dict:
    keep = [v.masks["ah"] for v in videos]
    return metrics.ah_f1(
        np.concatenate([p[k] for p, k in zip(pred, keep, strict=True)]),
        np.concatenate([v.labels["ah"][k] for v, k in zip(videos, keep, strict=True)]),
    )


_SCORERS: dict[str, Callable[[list[np.ndarray], list[VideoData]], dict]] = {
    "va": _va,
    "au": _au,
    "emi": _emi,
    "ah": _ah,
}


def _flatten(scores: dict) -> dict[str, float]:
    """{"au_f1": {"AU1": x}, "au_f1_mean": y} -> {"au_f1/AU1": x, "au_f1_mean": y}."""
    flat: dict[str, float] = {}
    for key, value in scores.items():
        if isinstance(value, dict):
            flat.update({f"{key}/{k}": float(v) for k, v in value.items()})
        else:
            flat[key] = float(value)
    return flat
