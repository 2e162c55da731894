"""Task heads: one linear layer per task on the dropout-regularised temporal vector."""

from __future__ import annotations

import torch
from torch import nn

from affect_perception.labels import TASK_DIMS

# Output activation per task in training mode: va and emi are bounded values, au and ah are
# logits (the loss applies the sigmoid; the ONNX export applies it inside the graph).
TASK_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "va": nn.Tanh,
    "au": nn.Identity,
    "emi": nn.Sigmoid,
    "ah": nn.Identity,
}
# Tasks whose training output is a logit that the exported graph turns into a probability.
LOGIT_TASKS: tuple[str, ...] = tuple(t for t, a in TASK_ACTIVATIONS.items() if a is nn.Identity)


class TaskHeads(nn.Module):
    """Dropout, then a linear layer and output activation per task.

    Args:
        in_dim: width of the input vector.
        tasks: task names from ``labels.TASKS``.
        dropout: dropout probability on the input vector.
    """

    def __init__(self, in_dim: int, tasks: tuple[str, ...], dropout: float = 0.1) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.heads = nn.ModuleDict(
            {
                t: nn.Sequential(nn.Linear(in_dim, TASK_DIMS[t]), TASK_ACTIVATIONS[t]())
                for t in tasks
            }
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, in_dim) -> {task: (B, TASK_DIMS[task])}."""
        x = self.drop(x)
        return {t: head(x) for t, head in self.heads.items()}

    @torch.no_grad()
    def move_decision_point(self, task: str, thresholds: torch.Tensor) -> None:
        """Shift a logit task's bias so that its probability crosses 0.5 where it crossed
        ``thresholds`` (one per output) before: ``logit(p) -> logit(p) - logit(threshold)``."""
        if task not in LOGIT_TASKS:
            raise ValueError(f"task {task!r} has no logit output; only {LOGIT_TASKS} do")
        linear = self.heads[task][0]
        linear.bias -= torch.logit(thresholds.to(linear.bias)).reshape(linear.bias.shape)
