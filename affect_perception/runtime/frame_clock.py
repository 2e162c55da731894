"""The time of each frame for the pipeline: the source's stamps while they advance, the arrival
time once they do not.

Smoothing, the baseline and the tracker read time from the frame stamps. Some drivers leave
the stamps unset (all zero) or repeat them; with stamps that do not advance, the smoothers see
no time pass and freeze their output. :class:`FrameClock` watches the stamps and, from the
first one that does not advance (zero, repeated or going backwards), uses the arrival time
instead, for the rest of the run (no switching back and forth between the two clocks).
"""

from __future__ import annotations

# What FrameClock.source says for each clock.
SOURCE_STAMPS = "source stamps"
ARRIVAL_TIME = "arrival time (the source stamps do not advance)"


class FrameClock:
    """Frame times from source stamps, falling back to arrival times.

    Attributes:
        fallback: the stamps stopped advancing; arrival times are used.
    """

    def __init__(self) -> None:
        self._last: float | None = None
        self.fallback = False

    def time(self, stamp: float, arrival: float) -> float:
        """The time of a frame stamped ``stamp`` that arrived at ``arrival`` (seconds, wall
        clock, so a switch from real stamps does not step back)."""
        if not self.fallback and self._last is not None and stamp <= self._last:
            self.fallback = True
        self._last = stamp
        return arrival if self.fallback else stamp

    @property
    def source(self) -> str:
        """Which clock is in use, for logs and diagnostics."""
        return ARRIVAL_TIME if self.fallback else SOURCE_STAMPS
