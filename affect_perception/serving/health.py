"""The node's health, ROS-free: totals, rates, a level and the displayed values.

Rates come from the node's running totals sampled once per publication (:class:`CounterRate`),
so no thread counts events twice. :func:`assess` decides the level from the snapshot alone.
:mod:`affect_perception.ros.diagnostics` wraps the result in a ``DiagnosticArray``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from affect_perception.runtime.frame_clock import SOURCE_STAMPS

# Span of the sliding window the rates are measured over, in seconds.
RATE_WINDOW_S = 5.0
# Seconds without an input frame before the status warns.
NO_INPUT_S = 3.0
# Share of the input frames dropped (the worker too slow for the camera) that warns.
DROP_WARN_FRACTION = 0.2
# Share of the source's frames lost before reaching the node (stamp gaps) that warns.
LOSS_WARN_FRACTION = 0.01
# Status levels, the values of diagnostic_msgs/DiagnosticStatus's constants.
OK, WARN, ERROR = b"\x00", b"\x01", b"\x02"


class CounterRate:
    """Rate per second of a running total over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, total: int, now: float) -> float:
        """Record the total at ``now`` (seconds, monotonic); the rate since the oldest sample
        still in the window (0 until two samples span some time)."""
        self._samples.append((now, total))
        # keep one sample at or before the window start, so the span covers the whole window
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()
        start, first = self._samples[0]
        return (total - first) / (now - start) if now > start else 0.0


@dataclass
class Health:
    """What the node knows about itself at one moment.

    Attributes:
        received, processed, dropped, decode_errors, processing_errors: running totals of
            frames (dropped: replaced by a newer frame before processing).
        input_rate, output_rate, drop_rate, decode_error_rate, error_rate: per second over
            the last window.
        seconds_since_input: since the last frame arrived (inf before the first).
        latency_p50_ms, latency_p95_ms: pipeline time per frame.
        faces: faces in the last processed frame; warm: those with a full window.
        window_size: frames a window needs; provider: onnxruntime execution provider;
        model_id: the model's id; topic: the image topic subscribed to.
        state: the node's lifecycle state (``active`` or ``inactive``).
        reliable: faces in the last processed frame whose estimate is reliable.
        lost, lost_rate: frames estimated lost before they reached the node (gaps in the
            source stamps), in total and per second over the last window.
        clock: what times the frames: the source stamps, or the arrival time when the stamps
            do not advance (see :mod:`affect_perception.runtime.frame_clock`).
        native_messages: lines the native image decoders wrote to stderr, caught and counted
            instead (see :mod:`affect_perception.runtime.native_output`).
        taught_on: what the model's outputs were taught on (`provenance.taught_on`).
        real_face_evidence: the model's real-face evidence (`provenance.evidence`).
    """

    received: int
    processed: int
    dropped: int
    decode_errors: int
    processing_errors: int
    input_rate: float
    output_rate: float
    drop_rate: float
    decode_error_rate: float
    error_rate: float
    seconds_since_input: float
    latency_p50_ms: float
    latency_p95_ms: float
    faces: int
    warm: int
    window_size: int
    provider: str
    model_id: str
    topic: str
    state: str = "active"
    reliable: int = 0
    lost: int = 0
    lost_rate: float = 0.0
    clock: str = SOURCE_STAMPS
    native_messages: int = 0
    taught_on: str = "unknown"
    real_face_evidence: str = "none"


def assess(health: Health) -> tuple[bytes, str]:
    """(level, message): OK while not active (the node is not meant to process), else the
    worst of ERROR on processing errors, WARN on no input, decode errors or too many drops,
    else OK (levels as ``DiagnosticStatus`` constants)."""
    if health.state != "active":
        return OK, f"{health.state}: not processing images (activate the node to start)"
    problems: list[tuple[bytes, str]] = []
    if health.error_rate > 0:
        problems.append((ERROR, f"pipeline failing on {health.error_rate:.1f} frames/s"))
    if health.seconds_since_input > NO_INPUT_S:
        problems.append((WARN, f"no image on {health.topic} for more than {NO_INPUT_S:g} s"))
    if health.decode_error_rate > 0:
        problems.append((WARN, f"{health.decode_error_rate:.1f} undecodable frames/s"))
    if health.drop_rate > DROP_WARN_FRACTION * health.input_rate > 0:
        problems.append(
            (WARN, f"processing {health.output_rate:.1f} of {health.input_rate:.1f} frames/s")
        )
    if health.lost_rate > LOSS_WARN_FRACTION * (health.input_rate + health.lost_rate):
        problems.append(
            (
                WARN,
                f"{health.lost_rate:.1f} frames/s lost before reaching the node "
                "(large raw images: see the Fast DDS profile in docs/NODE.md)",
            )
        )
    if not problems:
        return OK, f"{health.output_rate:.1f} frames/s, {health.faces} faces"
    return max(level for level, _ in problems), "; ".join(text for _, text in problems)


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


def health_values(health: Health) -> list[tuple[str, str]]:
    """The (key, value) pairs of the status, in display order."""
    return [
        ("input rate (Hz)", _number(health.input_rate)),
        ("output rate (Hz)", _number(health.output_rate)),
        ("frames received", str(health.received)),
        ("frames processed", str(health.processed)),
        ("frames dropped (stale)", str(health.dropped)),
        ("decode errors", str(health.decode_errors)),
        ("processing errors", str(health.processing_errors)),
        ("latency p50 (ms)", _number(health.latency_p50_ms)),
        ("latency p95 (ms)", _number(health.latency_p95_ms)),
        ("execution provider", health.provider),
        ("faces tracked", str(health.faces)),
        ("warm windows", str(health.warm)),
        ("cold windows", str(health.faces - health.warm)),
        ("window size", str(health.window_size)),
        ("model id", health.model_id),
        ("image topic", health.topic),
        ("lifecycle state", health.state),
        ("reliable faces", str(health.reliable)),
        ("frames lost before arrival (estimate)", str(health.lost)),
        ("lost rate (Hz)", _number(health.lost_rate)),
        ("frame clock", health.clock),
        ("native decoder messages", str(health.native_messages)),
        ("outputs taught on", health.taught_on),
        ("real-face evidence", health.real_face_evidence),
    ]
