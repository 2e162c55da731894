"""Frames lost before they reached the node, estimated from gaps in the source image stamps.

A camera stamps its frames at a steady interval; a gap of k median intervals between two
frames that did arrive means about k - 1 frames were lost on the way (a publisher's transport
too small for the frame, a best-effort network). ROS-free, so it is tested without a graph.
"""

from __future__ import annotations

import statistics
from collections import deque

# Recent stamp intervals the median is taken over.
HISTORY = 60
# Intervals needed before any gap is judged.
MIN_INTERVALS = 5
# A gap longer than this many median intervals is a pause of the source (a camera restarted,
# a bag looped), not lost frames.
PAUSE_INTERVALS = 30


class StampGapLoss:
    """Running estimate of frames lost upstream.

    Attributes:
        seen: frames that arrived.
        lost: frames estimated lost before arriving.
    """

    def __init__(self, history: int = HISTORY) -> None:
        self._intervals: deque[float] = deque(maxlen=history)
        self._last: float | None = None
        self.seen = 0
        self.lost = 0

    def add(self, stamp: float) -> int:
        """Record an arriving frame's stamp (seconds); the frames estimated lost just before it.

        Stamps that do not move forward (zero, repeated, a source restarting) only restart the
        interval count.
        """
        self.seen += 1
        last, self._last = self._last, stamp
        if last is None or stamp <= last:
            return 0
        interval = stamp - last
        enough = len(self._intervals) >= MIN_INTERVALS
        median = statistics.median(self._intervals) if enough else 0.0
        self._intervals.append(interval)
        if not enough or interval > PAUSE_INTERVALS * median:
            return 0
        missing = max(0, round(interval / median) - 1)
        self.lost += missing
        return missing

    @property
    def fraction(self) -> float:
        """Share of the source's frames lost so far (0 before any loss)."""
        total = self.seen + self.lost
        return self.lost / total if total else 0.0
