"""Optional per-face smoothing of the pipeline's output vectors over time.

`OutputSmoother` is what the pipeline calls; `TrackFilter` implements it for any filter that
keeps a state per (track, output) and steps it once per frame, so another filter (e.g. a
stamp-aware One-Euro filter) only writes `step`. `EmaSmoother` is the exponential moving
average.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class OutputSmoother(Protocol):
    """Smooths each track's outputs; state is kept per track until `remove` or `reset`."""

    def __call__(self, track_ids: Sequence[str], values: dict[str, np.ndarray], stamp: float
                 ) -> dict[str, np.ndarray]:
        """Smoothed copies of ``values`` (name -> (n, ...) rows for ``track_ids``)."""
        ...

    def remove(self, track_ids: Sequence[str]) -> None:
        """Forget these tracks (unknown ids are ignored)."""
        ...

    def reset(self) -> None:
        """Forget every track."""
        ...


class TrackFilter(ABC):
    """An `OutputSmoother` from a per-row filter step; a track's first row passes through."""

    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}

    @abstractmethod
    def step(self, state: Any, value: np.ndarray, stamp: float) -> tuple[Any, np.ndarray]:
        """Filter one track's row of one output.

        Args:
            state: what the last step returned for this track and output (None at first).
            value: the new row.
            stamp: the frame's time in seconds.

        Returns:
            (new state, filtered row).
        """

    def __call__(self, track_ids: Sequence[str], values: dict[str, np.ndarray], stamp: float
                 ) -> dict[str, np.ndarray]:
        ids = list(track_ids)
        for name, rows in values.items():
            if len(rows) != len(ids):
                raise ValueError(f"values[{name!r}] has {len(rows)} rows for {len(ids)} tracks")
        out = {name: np.empty_like(rows) for name, rows in values.items()}
        for i, track in enumerate(ids):
            states = self._state.setdefault(track, {})
            for name, rows in values.items():
                states[name], out[name][i] = self.step(states.get(name), rows[i], stamp)
        return out

    def remove(self, track_ids: Sequence[str]) -> None:
        for track in track_ids:
            self._state.pop(track, None)

    def reset(self) -> None:
        self._state.clear()

    def __len__(self) -> int:
        """Tracks with state."""
        return len(self._state)


class EmaSmoother(TrackFilter):
    """Exponential moving average: ``y = alpha * x + (1 - alpha) * y_previous``.

    Args:
        alpha: weight of the newest output in (0, 1]; 1 turns smoothing off, lower values
            smooth more and lag more (about 1 / alpha frames). The stamp is not used.
    """

    def __init__(self, alpha: float) -> None:
        super().__init__()
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha

    def step(self, state: np.ndarray | None, value: np.ndarray, stamp: float
             ) -> tuple[np.ndarray, np.ndarray]:
        value = np.asarray(value, dtype=np.float64)
        smoothed = value if state is None else self.alpha * value + (1 - self.alpha) * state
        return smoothed, smoothed
