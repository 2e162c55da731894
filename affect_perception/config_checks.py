"""Checks shared by the config dataclasses (model, training, pretraining)."""

from __future__ import annotations

from collections.abc import Iterable


def require_positive(config: object, names: Iterable[str]) -> None:
    """Raise ValueError naming the first of ``names`` whose value on ``config`` is below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be a positive integer, got {getattr(config, name)}")
