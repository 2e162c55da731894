"""Optional per-face smoothing of the pipeline's output vectors over time.

`OutputSmoother` is what the pipeline calls; `TrackFilter` implements it for any filter that
keeps a state per (track, output) and steps it once per frame, so a filter only writes `step`.
`EmaSmoother` is the exponential moving average (per frame, stamps unused); `OneEuroFilter` is
the stamp-aware One-Euro filter (Casiez et al., CHI 2012), and `OneEuroConfig.smoother` gives
one per output group (``va``, ``au``, ``emi``) through `GroupSmoother`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class OutputSmoother(Protocol):
    """Smooths each track's outputs; state is kept per track until `remove` or `reset`."""

    def __call__(
        self, track_ids: Sequence[str], values: dict[str, np.ndarray], stamp: float
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

    def __call__(
        self, track_ids: Sequence[str], values: dict[str, np.ndarray], stamp: float
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

    def step(
        self, state: np.ndarray | None, value: np.ndarray, stamp: float
    ) -> tuple[np.ndarray, np.ndarray]:
        value = np.asarray(value, dtype=np.float64)
        smoothed = value if state is None else self.alpha * value + (1 - self.alpha) * state
        return smoothed, smoothed


def smoothing_factor(cutoff_hz: float | np.ndarray, dt: float) -> float | np.ndarray:
    """Weight of a new sample in a first-order low-pass of ``cutoff_hz`` after ``dt`` seconds.

    ``1 - exp(-2 pi f dt)``, the exact step of the continuous filter; the One-Euro paper's
    ``1 / (1 + 1 / (2 pi f dt))`` is its first-order approximation (equal for ``dt`` much
    shorter than ``1 / (2 pi f)``). The exact form makes the response to a signal the same at
    any frame rate, which the approximation is not (at 1 Hz it lags about 15 % more at 10 fps
    than at 30 fps).
    """
    return -np.expm1(-2 * math.pi * np.asarray(cutoff_hz, np.float64) * dt)


@dataclass(frozen=True)
class OneEuroParams:
    """One-Euro settings of one signal group.

    Attributes:
        min_cutoff: cutoff frequency in Hz while the signal is still (lower: less jitter,
            more lag). A step's remaining error falls below 10 % within
            ``ln(10) / (2 pi min_cutoff)`` seconds plus one frame interval, whatever ``beta``
            (0.37 s at 1 Hz); faster for large steps when ``beta`` > 0.
        beta: cutoff increase in Hz per unit/s of the signal's (filtered) speed (higher: less
            lag when it moves fast); 0 makes a plain low-pass.
        d_cutoff: cutoff in Hz of the low-pass on the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 1.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.d_cutoff > 0 and self.beta >= 0):
            raise ValueError(
                "One-Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, got "
                f"{self.min_cutoff}, {self.d_cutoff} and {self.beta}"
            )


class OneEuroFilter(TrackFilter):
    """One-Euro filter: a low-pass whose cutoff rises with the signal's speed, stepped by the
    frames' stamps, so the smoothing is the same at any frame rate and across dropped frames.

    Per element: ``dx = lowpass(d_cutoff)((x - y_prev) / dt)``, ``cutoff = min_cutoff + beta
    |dx|``, ``y = lowpass(cutoff)(x)`` with weights from :func:`smoothing_factor`.

    Stamps: a stamp equal to the track's previous one (the same frame again) returns the
    previous output and keeps the state; a stamp before it (the input jumped back, e.g. a bag
    played again) restarts the filter at the new value, as for a new track. A NaN in the state
    (an absent output) is replaced by the next value.
    """

    def __init__(self, params: OneEuroParams) -> None:
        super().__init__()
        self.params = params

    def step(
        self, state: tuple | None, value: np.ndarray, stamp: float
    ) -> tuple[tuple, np.ndarray]:
        x = np.asarray(value, dtype=np.float64)
        if state is not None and stamp == state[0]:
            return state, state[1]
        if state is None or stamp < state[0]:
            return (stamp, x, np.zeros_like(x)), x
        last_stamp, last, last_speed = state
        dt = stamp - last_stamp
        p = self.params
        a_speed = smoothing_factor(p.d_cutoff, dt)
        speed = a_speed * (x - last) / dt + (1 - a_speed) * last_speed
        speed = np.where(np.isfinite(speed), speed, 0.0)
        a = smoothing_factor(p.min_cutoff + p.beta * np.abs(speed), dt)
        y = np.where(np.isnan(last), x, a * x + (1 - a) * last)
        return (stamp, y, speed), y


class GroupSmoother:
    """An `OutputSmoother` applying one smoother per output name; other outputs pass through.

    Args:
        smoothers: output name (e.g. ``"va"``) -> its smoother.
    """

    def __init__(self, smoothers: Mapping[str, OutputSmoother]) -> None:
        self.smoothers = dict(smoothers)

    def __call__(
        self, track_ids: Sequence[str], values: dict[str, np.ndarray], stamp: float
    ) -> dict[str, np.ndarray]:
        out = dict(values)
        for name, smoother in self.smoothers.items():
            if name in values:
                out[name] = smoother(track_ids, {name: values[name]}, stamp)[name]
        return out

    def remove(self, track_ids: Sequence[str]) -> None:
        for smoother in self.smoothers.values():
            smoother.remove(track_ids)

    def reset(self) -> None:
        for smoother in self.smoothers.values():
            smoother.reset()


@dataclass(frozen=True)
class OneEuroConfig:
    """One-Euro settings per output group: valence/arousal, AU probabilities, EMI intensities
    (the hesitancy probability is not smoothed). The defaults are the node's.

    Attributes:
        va, au, emi: :class:`OneEuroParams` of each group.
    """

    va: OneEuroParams = field(default_factory=lambda: OneEuroParams(1.0, 1.0, 1.0))
    au: OneEuroParams = field(default_factory=lambda: OneEuroParams(1.5, 1.0, 1.0))
    emi: OneEuroParams = field(default_factory=lambda: OneEuroParams(1.0, 1.0, 1.0))

    def smoother(self) -> GroupSmoother:
        """A fresh smoother (no track state) with these settings."""
        return GroupSmoother(
            {name: OneEuroFilter(getattr(self, name)) for name in ("va", "au", "emi")}
        )
