"""ABAW metrics shared by training and evaluation: CCC, binary F1 and Pearson's r.

Every function takes numpy arrays (any float or int dtype), computes in float64 and returns
plain Python floats, never NaN. Degenerate cases follow one rule each, documented where they
arise, so a validation loop never has to guard against NaN:

- CCC: the formula is used as is; it is only undefined when prediction and label are both
  constant and equal, which is perfect agreement and scores 1.0 (sklearn ``r2_score``'s
  ``force_finite`` convention).
- Pearson's r: undefined when either side has zero variance (no co-variation can be measured);
  it scores 0.0, the value of an uninformative predictor, where scipy would return NaN.
- F1: ``2 TP / (2 TP + FP + FN)``; when there is no positive in labels or predictions the
  ratio is 0 / 0 and scores 0.0, like sklearn's ``f1_score(zero_division=0)``.
- Rows carrying a missing-label marker are removed first; if nothing is left, a ValueError.
"""

from __future__ import annotations

import numpy as np

from affect_perception.labels import AU_MISSING, AU_NAMES, EMI_NAMES, VA_MISSING, VA_NAMES

# Probability at and above which an AU or A/H prediction counts as present (ABAW scores
# binary predictions).
BINARY_THRESHOLD = 0.5


def _pair(
    pred: np.ndarray, label: np.ndarray, ndim: int, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a prediction / label pair to float64 arrays of equal shape."""
    pred = np.asarray(pred, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    if pred.shape != label.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from label shape {label.shape}")
    if pred.ndim != ndim or (width is not None and pred.shape[1] != width):
        want = "(n,)" if ndim == 1 else f"(n, {width})"
        raise ValueError(f"expected arrays of shape {want}, got {pred.shape}")
    if len(pred) == 0:
        raise ValueError("no frames to score: the arrays are empty")
    if not np.isfinite(pred).all():
        raise ValueError("predictions contain NaN or inf; fix the model output before scoring")
    return pred, label


def _constant(values: np.ndarray) -> bool:
    """All values equal (tested exactly: a variance would carry the mean's rounding error)."""
    return bool(values.min() == values.max())


def _no_frames_left(marker: float) -> ValueError:
    return ValueError(f"no frames left to score after removing missing labels ({marker:g})")


def ccc(pred: np.ndarray, label: np.ndarray) -> float:
    """Concordance correlation coefficient with population (1/n) statistics, as ABAW.

    ``2 cov(p, l) / (var(p) + var(l) + (mean(p) - mean(l))**2)``. A constant prediction
    against a varying label gives 0; constant and equal on both sides gives 1.
    """
    pred, label = _pair(pred, label, ndim=1)
    if _constant(pred) or _constant(label):
        # the covariance is exactly 0; the mean's rounding error must not turn it into noise
        return 1.0 if _constant(pred) and _constant(label) and pred[0] == label[0] else 0.0
    mp, ml = pred.mean(), label.mean()
    cov = np.mean((pred - mp) * (label - ml))
    return float(2.0 * cov / (pred.var() + label.var() + (mp - ml) ** 2))


def pearson(pred: np.ndarray, label: np.ndarray) -> float:
    """Pearson's correlation coefficient; 0.0 when either side has zero variance."""
    pred, label = _pair(pred, label, ndim=1)
    if _constant(pred) or _constant(label):
        return 0.0
    dp, dl = pred - pred.mean(), label - label.mean()
    r = np.sum(dp * dl) / np.sqrt(np.sum(dp * dp) * np.sum(dl * dl))
    return float(np.clip(r, -1.0, 1.0))


def binarize(pred: np.ndarray) -> np.ndarray:
    """Probabilities (or 0/1 values) to bool at BINARY_THRESHOLD."""
    return np.asarray(pred, dtype=np.float64) >= BINARY_THRESHOLD


def f1_binary(pred: np.ndarray, label: np.ndarray) -> float:
    """F1 of the positive class; ``pred`` is 0/1 or probabilities, ``label`` is 0/1.

    Scores 0.0 when neither labels nor predictions hold a positive (zero_division=0).
    """
    pred, label = _pair(pred, label, ndim=1)
    if not np.isin(label, (0.0, 1.0)).all():
        raise ValueError("binary labels must be 0 or 1; remove missing-label rows first")
    hit, truth = binarize(pred), label == 1.0
    tp = np.sum(hit & truth)
    denom = 2 * tp + np.sum(hit & ~truth) + np.sum(~hit & truth)
    return 0.0 if denom == 0 else float(2 * tp / denom)


def va_ccc(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """Valence and arousal CCC and their mean (the ABAW VA score).

    Args:
        pred: (n, 2) predicted valence, arousal.
        label: (n, 2) labels; rows where either is VA_MISSING (-5) are left out.

    Returns:
        ``valence_ccc``, ``arousal_ccc`` and ``va_ccc`` (their mean).
    """
    pred, label = _pair(pred, label, ndim=2, width=len(VA_NAMES))
    keep = ~(label == VA_MISSING).any(axis=1)
    if not keep.any():
        raise _no_frames_left(VA_MISSING)
    scores = {f"{name}_ccc": ccc(pred[keep, i], label[keep, i]) for i, name in enumerate(VA_NAMES)}
    scores["va_ccc"] = float(np.mean(list(scores.values())))
    return scores


def au_f1(pred: np.ndarray, label: np.ndarray) -> dict:
    """Per-AU F1 and their mean over the 12 AUs (the ABAW AU score).

    Args:
        pred: (n, 12) probabilities or 0/1, order labels.AU_NAMES; thresholded at 0.5.
        label: (n, 12) 0/1 with AU_MISSING (-1) where unknown; each AU is scored over its
            own non-missing frames, and an AU with none scores 0.0 (zero_division=0).

    Returns:
        ``au_f1`` ({AU name: F1}) and ``au_f1_mean``.
    """
    pred, label = _pair(pred, label, ndim=2, width=len(AU_NAMES))
    known = label != AU_MISSING
    if not known.any():
        raise _no_frames_left(AU_MISSING)
    per_au = {}
    for i, name in enumerate(AU_NAMES):
        rows = known[:, i]
        per_au[name] = f1_binary(pred[rows, i], label[rows, i]) if rows.any() else 0.0
    return {"au_f1": per_au, "au_f1_mean": float(np.mean(list(per_au.values())))}


def emi_pearson(pred: np.ndarray, label: np.ndarray) -> dict:
    """Per-dimension Pearson's r and their mean over the 6 EMI dimensions (the ABAW EMI score).

    Args:
        pred: (n, 6) predicted intensities, order labels.EMI_NAMES, one row per video (or
            per frame, for per-frame labels).
        label: (n, 6) label intensities; rows holding VA_MISSING (-5, a missing frame of a
            per-frame file) are left out.

    Returns:
        ``emi_pearson`` ({dimension: r}) and ``emi_pearson_mean``.
    """
    pred, label = _pair(pred, label, ndim=2, width=len(EMI_NAMES))
    keep = ~(label == VA_MISSING).any(axis=1)
    if not keep.any():
        raise _no_frames_left(VA_MISSING)
    per_dim = {name: pearson(pred[keep, i], label[keep, i]) for i, name in enumerate(EMI_NAMES)}
    return {"emi_pearson": per_dim, "emi_pearson_mean": float(np.mean(list(per_dim.values())))}


def ah_f1(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """Ambivalence/hesitancy F1 per frame.

    Args:
        pred: (n,) or (n, 1) probabilities or 0/1, thresholded at 0.5.
        label: the same shape, 0/1.

    Returns:
        ``ah_f1``, the headline: macro F1, the mean of the present and absent classes' F1 (what
        the BAH authors' evaluation code computes and later ABAW A/H challenges report);
        beside it ``ah_f1_positive`` (F1 of the A/H-present class alone) and
        ``ah_f1_weighted`` (the classes' F1 weighted by their frame counts).
    """
    pred, label = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (pred, label))
    present = f1_binary(pred, label)
    absent = f1_binary(~binarize(pred), 1.0 - label)
    # as scikit-learn's average="macro": over the classes that occur in labels or predictions
    seen = np.concatenate([label == 1.0, binarize(pred)])
    per_class = [f for f, occurs in ((present, seen.any()), (absent, not seen.all())) if occurs]
    share = float(np.mean(label == 1.0)) if len(label) else 0.0
    return {
        "ah_f1": float(np.mean(per_class)) if len(label) else 0.0,
        "ah_f1_positive": present,
        "ah_f1_weighted": share * present + (1.0 - share) * absent,
    }
