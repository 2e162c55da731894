"""Masked per-task losses: CCC (VA), weighted or focal BCE (AU, A/H), Pearson + MSE (EMI).

Every loss takes a boolean mask of the labels that exist; missing labels (Aff-Wild2's -5 and
-1, a task a video has no file for) contribute neither to the value nor to the gradient. A
batch without any label of a task gives a loss of exactly 0 that stays in the graph, so every
head takes part in every backward pass (DistributedDataParallel needs that).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from affect_perception.labels import TASKS

# Added to variances before division, so a constant batch gives a finite loss.
EPS = 1e-8


def _masked_moments(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Weighted means, variances and covariance of columns of x and y (population form)."""
    n = w.sum(dim=0).clamp(min=1.0)
    mx, my = (w * x).sum(dim=0) / n, (w * y).sum(dim=0) / n
    dx, dy = x - mx, y - my
    vx, vy = (w * dx * dx).sum(dim=0) / n, (w * dy * dy).sum(dim=0) / n
    return mx, my, vx, vy, (w * dx * dy).sum(dim=0) / n


def _columns_with_labels(mask: torch.Tensor) -> torch.Tensor:
    """(d,) float: 1 for a column with at least one label, else 0."""
    return (mask.sum(dim=0) > 0).to(torch.float32)


def _mean_over(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``weights`` is 1; 0 (still in the graph) where none is."""
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def _as_columns(
    pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes; broadcast a row mask (n,) to (n, d); zero labels where masked."""
    if pred.shape != label.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ")
    mask = mask.reshape(len(mask), -1).expand_as(pred) if pred.ndim == 2 else mask
    if mask.shape != pred.shape:
        raise ValueError(f"mask {tuple(mask.shape)} does not fit prediction {tuple(pred.shape)}")
    return pred, torch.where(mask, label, torch.zeros_like(label)), mask.to(pred.dtype)


def ccc_loss(pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - CCC`` per column over the labelled rows, averaged over columns with labels.

    Args:
        pred: (n, d) predictions.
        label: (n, d) labels (any value where masked).
        mask: (n,) or (n, d) bool, True where the label exists.
    """
    pred, label, w = _as_columns(pred, label, mask)
    mp, ml, vp, vl, cov = _masked_moments(pred, label, w)
    ccc = 2.0 * cov / (vp + vl + (mp - ml) ** 2 + EPS)
    return _mean_over(1.0 - ccc, _columns_with_labels(w))


def pearson_loss(pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - Pearson's r`` per column over the labelled rows, averaged over labelled columns."""
    pred, label, w = _as_columns(pred, label, mask)
    _, _, vp, vl, cov = _masked_moments(pred, label, w)
    r = cov / torch.sqrt(vp * vl + EPS)
    return _mean_over(1.0 - r, _columns_with_labels(w))


def mse_loss(pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the labelled entries."""
    pred, label, w = _as_columns(pred, label, mask)
    return _mean_over((pred - label) ** 2, w)


def bce_loss(
    logits: torch.Tensor,
    label: torch.Tensor,
    mask: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    gamma: float = 0.0,
) -> torch.Tensor:
    """Binary cross-entropy on logits over the labelled entries, optionally weighted or focal.

    Args:
        logits: (n, d) logits.
        label: (n, d) 0/1 labels (any value where masked).
        mask: (n,) or (n, d) bool, True where the label exists.
        pos_weight: (d,) weight of the positive class per column (rare AUs weigh more).
        gamma: focal-loss exponent (Lin et al. 2017); 0 is plain BCE.
    """
    logits, label, w = _as_columns(logits, label, mask)
    loss = F.binary_cross_entropy_with_logits(
        logits, label, reduction="none", pos_weight=pos_weight
    )
    if gamma > 0:
        p = torch.sigmoid(logits)
        p_true = p * label + (1 - p) * (1 - label)
        loss = loss * (1 - p_true) ** gamma
    return _mean_over(loss, w)


class MultiTaskLoss:
    """The weighted sum of the per-task losses of a model's heads.

    Args:
        tasks: heads the model has (``labels.TASKS`` order).
        weights: {task: weight}; tasks not named weigh 1.
        pos_weight: {task: positive-class weights} of the AU (12,) and A/H (1,) BCE; a task
            not named is unweighted.
        focal_gamma: focal exponent of the AU and A/H losses (0: weighted BCE).
        emi_mse_weight: weight of the MSE term beside ``1 - Pearson`` in the EMI loss.
    """

    def __init__(
        self,
        tasks: tuple[str, ...],
        weights: dict[str, float] | None = None,
        pos_weight: dict[str, torch.Tensor] | None = None,
        focal_gamma: float = 0.0,
        emi_mse_weight: float = 1.0,
    ) -> None:
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; choose from {list(TASKS)}")
        self.tasks = tasks
        self.weights = {t: float((weights or {}).get(t, 1.0)) for t in tasks}
        self.pos_weight = pos_weight or {}
        self.focal_gamma = focal_gamma
        self.emi_mse_weight = emi_mse_weight

    def __call__(
        self,
        outputs: dict[str, torch.Tensor],
        labels: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and {task: loss value} for the model's training outputs.

        ``outputs`` as `AffectModel.temporal` gives them (VA tanh, AU and A/H logits, EMI
        sigmoid); ``labels[task]`` (n, d) and ``masks[task]`` (n,) or (n, d) per task.
        """
        parts = {t: getattr(self, f"_{t}")(outputs[t], labels[t], masks[t]) for t in self.tasks}
        total = sum(self.weights[t] * parts[t] for t in self.tasks)
        return total, {t: float(v.detach()) for t, v in parts.items()}

    def _va(self, pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return ccc_loss(pred, label, mask)

    def _au(self, pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return bce_loss(pred, label, mask, self.pos_weight.get("au"), self.focal_gamma)

    def _emi(self, pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return pearson_loss(pred, label, mask) + self.emi_mse_weight * mse_loss(pred, label, mask)

    def _ah(self, pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return bce_loss(pred, label, mask, self.pos_weight.get("ah"), self.focal_gamma)
