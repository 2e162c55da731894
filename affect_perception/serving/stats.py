"""`FrameStats`: the counters and figures of one configured run, turned into a `Health`.

The subscription callback records each arrival (:meth:`FrameStats.arrive`, which also times
the frame and estimates the frames lost upstream), the worker records each processed frame
(:meth:`FrameStats.record`), and the diagnostics timer reads a `Health` snapshot with rates
over the last window (:meth:`FrameStats.health`). ROS-free.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from affect_perception.frame_result import FrameResult
from affect_perception.runtime.frame_clock import FrameClock
from affect_perception.runtime.native_output import DECODERS
from affect_perception.serving.frame_loss import StampGapLoss
from affect_perception.serving.frame_worker import WorkerCounts
from affect_perception.serving.health import CounterRate, Health

# The running totals that get a rate in the diagnostics.
RATED = ("received", "handled", "dropped", "decode_errors", "failed", "lost")


@dataclass(frozen=True)
class Arrival:
    """What one arriving frame's stamp told.

    Attributes:
        time: the frame's time for the pipeline (source stamp, or arrival time).
        clock_fell_back: this frame switched the clock to arrival times.
    """

    time: float
    clock_fell_back: bool


@dataclass(frozen=True)
class Identity:
    """What the diagnostics say about the running model and input, besides the counters."""

    window_size: int
    provider: str
    model_id: str
    topic: str
    taught_on: str
    real_face_evidence: str


class FrameStats:
    """Counters since a configure; thread-safe where two threads count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.decode_errors = 0
        self.last_input = float("-inf")
        self.loss = StampGapLoss()
        self.clock = FrameClock()
        self._native_start = DECODERS.count
        self.latency = (float("nan"), float("nan"))
        self.faces = (0, 0, 0)  # faces, warm and reliable faces in the last frame
        self._rates = {name: CounterRate() for name in RATED}

    def arrive(self, stamp: float, now: float, wall: float) -> Arrival:
        """A frame stamped ``stamp`` arrived at ``now`` (monotonic) / ``wall`` (wall clock)."""
        self.last_input = now
        fallback = self.clock.fallback
        frame_time = self.clock.time(stamp, wall)
        return Arrival(frame_time, self.clock.fallback and not fallback)

    def count_loss(self, frame_time: float) -> int:
        """Frames estimated lost just before this well-formed one (none on arrival times:
        they say nothing of frames lost upstream)."""
        return 0 if self.clock.fallback else self.loss.add(frame_time)

    def decode_error(self) -> None:
        """Count an image that cannot be decoded (the callback and the worker both count)."""
        with self._lock:
            self.decode_errors += 1

    def record(self, result: FrameResult, latency: tuple[float, float]) -> None:
        """A processed frame: its faces and the pipeline's latency percentiles."""
        self.latency = latency
        self.faces = (
            len(result.faces),
            int(result.warm.sum()),
            int(result.face_values("reliable").sum()),
        )

    def health(self, counts: WorkerCounts, now: float, identity: Identity, active: bool) -> Health:
        """The snapshot at ``now`` (monotonic); rates over the last window."""
        totals = {
            "received": counts.received,
            "handled": counts.handled,
            "dropped": counts.dropped,
            "decode_errors": self.decode_errors,
            "failed": counts.failed,
            "lost": self.loss.lost,
        }
        rates = {name: self._rates[name].update(total, now) for name, total in totals.items()}
        faces, warm, reliable = self.faces
        return Health(
            received=counts.received,
            processed=counts.handled,
            dropped=counts.dropped,
            decode_errors=self.decode_errors,
            processing_errors=counts.failed - self.decode_errors,
            input_rate=rates["received"],
            output_rate=rates["handled"],
            drop_rate=rates["dropped"],
            decode_error_rate=rates["decode_errors"],
            error_rate=rates["failed"] - rates["decode_errors"],
            seconds_since_input=now - self.last_input,
            latency_p50_ms=self.latency[0],
            latency_p95_ms=self.latency[1],
            faces=faces,
            warm=warm,
            window_size=identity.window_size,
            provider=identity.provider,
            model_id=identity.model_id,
            topic=identity.topic,
            state="active" if active else "inactive",
            reliable=reliable,
            lost=self.loss.lost,
            lost_rate=rates["lost"],
            clock=self.clock.source,
            native_messages=DECODERS.count - self._native_start,
            taught_on=identity.taught_on,
            real_face_evidence=identity.real_face_evidence,
        )
