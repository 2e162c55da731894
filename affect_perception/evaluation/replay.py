"""Replay a bag's image frames through the pipeline: in this process, or through the ROS node.

- In process: each frame is decoded and passed to ``AffectPipeline.process`` as fast as it
  goes; latency is the pipeline's own per-frame total, nothing is dropped.
- Over ROS: the node (``python -m affect_perception.ros.node``) is started with the model and
  its ``image`` input remapped to the bag's topic; the frames' CDR bytes are published at R×
  the bag's own timing (by header stamp) and the node's ``AffectStateArray`` outputs are
  collected by header stamp. Latency is publish-to-receive; a frame with no output is dropped
  (the node skips stale frames when it falls behind).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from affect_perception.child_process import stop_child
from affect_perception.evaluation.bag_io import (
    COMPRESSED_TYPE,
    PREDICTION_TOPIC,
    BagFrame,
    deserialize_affect,
    msg_to_result,
    stamp_ns,
)
from affect_perception.frame_result import FrameResult
from affect_perception.runtime.image_decode import ImageDecodeError

if TYPE_CHECKING:
    from affect_perception.runtime.pipeline import AffectPipeline

# Seconds to wait for the node to load its model and connect to our topics.
NODE_START_TIMEOUT_S = 90.0
# After the last frame: seconds to keep waiting for outputs after the most recent one came.
DRAIN_QUIET_S = 3.0
# Seconds to let the node exit after SIGINT before killing it.
NODE_STOP_TIMEOUT_S = 15.0
# Depth of the output subscription's queue (outputs are only counted, never processed late).
OUTPUT_QUEUE_DEPTH = 1000
# Lines of the node's log quoted when it fails to start.
LOG_TAIL_LINES = 15


class ReplayError(RuntimeError):
    """The ROS replay could not run (the node did not start or died)."""


@dataclass
class Replay:
    """What a replay produced, frame by frame.

    Attributes:
        stamps: header stamp (ns) of each frame, in bag order.
        frame_ids: header frame_id of each frame.
        predictions: the pipeline's result for each frame, None where none came back.
        latency_ms: per answered frame, milliseconds from input to result.
        wall_s: seconds from the first frame in to the last result out.
        raw_outputs: ROS mode only: the node's serialized outputs keyed by stamp.
    """

    stamps: list[int] = field(default_factory=list)
    frame_ids: list[str] = field(default_factory=list)
    predictions: list[FrameResult | None] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    raw_outputs: dict[int, bytes] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        """Frames with a result."""
        return sum(p is not None for p in self.predictions)

    @property
    def dropped(self) -> int:
        """Frames without a result."""
        return len(self.predictions) - self.answered

    @property
    def fps(self) -> float:
        """Results per second of wall time (0 before any)."""
        return self.answered / self.wall_s if self.wall_s > 0 else 0.0

    def latency_percentiles(self) -> tuple[float | None, float | None]:
        """p50 and p95 latency in ms (None without results)."""
        if not self.latency_ms:
            return None, None
        p50, p95 = np.percentile(np.asarray(self.latency_ms), [50, 95])
        return float(p50), float(p95)


Progress = Callable[[int], None]


def replay_inprocess(
    frames: Iterable[BagFrame], pipeline: AffectPipeline, progress: Progress | None = None
) -> Replay:
    """Decode each frame and run the pipeline on it, as fast as possible."""
    replay = Replay()
    start = time.perf_counter()
    for frame in frames:
        try:
            rgb = frame.decode()
        except ImageDecodeError as err:
            raise ImageDecodeError(f"frame {frame.index}: {err}") from None
        result = pipeline.process(rgb, frame.stamp_ns / 1e9)
        replay.stamps.append(frame.stamp_ns)
        replay.frame_ids.append(frame.frame_id)
        replay.predictions.append(result)
        replay.latency_ms.append(result.timings_ms["total"])
        if progress is not None:
            progress(1)
    replay.wall_s = time.perf_counter() - start
    return replay


def node_command(
    model_dir: Path,
    topic: str,
    *,
    compressed: bool = False,
    params_file: Path | None = None,
    params: dict[str, Any] | None = None,
) -> list[str]:
    """The command line that starts the node on ``topic`` with the model in ``model_dir``, the
    parameter file ``params_file`` and the parameter values ``params`` (over the file's).

    Its ``~/affect`` output is PREDICTION_TOPIC. Raw images are subscribed reliably: large
    best-effort frames are mostly lost over loopback, and a replay should see every frame.
    """
    source = "image/compressed" if compressed else "image"
    values = {
        "image_reliability": "reliable",
        "model_dir": str(model_dir),
        "use_compressed": str(compressed).lower(),
        **(params or {}),
    }
    return [
        sys.executable,
        "-m",
        "affect_perception.ros.node",
        "--ros-args",
        "-r",
        f"{source}:={topic}",
        *(["--params-file", str(params_file)] if params_file else []),
        *(word for name, value in values.items() for word in ("-p", f"{name}:={value}")),
    ]


class _NodeProcess:
    """The node as a child process, its output in a log file."""

    def __init__(self, command: list[str]) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="affect_perception_node_", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ReplayError(
                f"the node exited with code {self.proc.returncode} before the "
                f"replay ended; its log ({self.log.name}) ends with:\n" + self.tail()
            )

    def tail(self) -> str:
        self.log.flush()
        lines = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        stop_child(self.proc, signal.SIGINT, NODE_STOP_TIMEOUT_S)
        self.log.close()
        if self.proc.returncode == 0:
            Path(self.log.name).unlink(missing_ok=True)


def replay_ros(
    frames: Iterable[BagFrame],
    *,
    topic: str,
    msgtype: str,
    model_dir: Path,
    rate: float = 1.0,
    params_file: Path | None = None,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Replay:
    """Publish the frames to the node at ``rate`` × real time and collect its outputs.

    Raises:
        ReplayError: the node did not come up within NODE_START_TIMEOUT_S, or exited.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import CompressedImage, Image

    from affect_perception.msg import AffectStateArray

    compressed = msgtype == COMPRESSED_TYPE
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    node_proc = _NodeProcess(
        node_command(
            model_dir, topic, compressed=compressed, params_file=params_file, params=params
        )
    )
    received: dict[int, tuple[float, bytes]] = {}
    lock = threading.Lock()

    def on_output(raw: bytes) -> None:
        now = time.perf_counter()
        stamp = stamp_ns(deserialize_affect(raw).header.stamp)
        with lock:
            received.setdefault(stamp, (now, bytes(raw)))

    try:
        node = rclpy.create_node("affect_perception_replay", context=context)
        publisher = node.create_publisher(
            CompressedImage if compressed else Image, topic, QoSProfile(depth=1)
        )
        node.create_subscription(
            AffectStateArray,
            PREDICTION_TOPIC,
            on_output,
            QoSProfile(depth=OUTPUT_QUEUE_DEPTH),
            raw=True,
        )
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        _wait_for_node(
            node_proc,
            lambda: (
                publisher.get_subscription_count() > 0
                and node.count_publishers(PREDICTION_TOPIC) > 0
            ),
        )
        replay, sent = _publish(frames, publisher, rate, node_proc, progress)
        _drain(node_proc, received, lock, expected=len(replay.stamps))
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        node_proc.stop()
    _collect(replay, sent, received)
    return replay


def _collect(
    replay: Replay, sent: dict[int, float], received: dict[int, tuple[float, bytes]]
) -> None:
    """Fill the replay's predictions, latencies and wall time from the node's outputs."""
    first_sent = min(sent.values(), default=0.0)
    last_received = first_sent
    for stamp in replay.stamps:
        got = received.get(stamp)
        if got is None:
            replay.predictions.append(None)
            continue
        received_at, raw = got
        replay.predictions.append(msg_to_result(deserialize_affect(raw)))
        replay.latency_ms.append((received_at - sent[stamp]) * 1e3)
        replay.raw_outputs[stamp] = raw
        last_received = max(last_received, received_at)
    replay.wall_s = last_received - first_sent


def _wait_for_node(node_proc: _NodeProcess, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    while not ready():
        node_proc.check_alive()
        if time.monotonic() > deadline:
            raise ReplayError(
                f"the node did not connect within {NODE_START_TIMEOUT_S:.0f} s; "
                f"its log ends with:\n{node_proc.tail()}"
            )
        time.sleep(0.05)


def _publish(
    frames: Iterable[BagFrame],
    publisher: object,
    rate: float,
    node_proc: _NodeProcess,
    progress: Progress | None,
) -> tuple[Replay, dict[int, float]]:
    """Publish each frame's bytes when its stamp comes due at ``rate`` × real time."""
    replay, sent = Replay(), {}
    start = first_stamp = None
    for frame in frames:
        if start is None:
            start, first_stamp = time.perf_counter(), frame.stamp_ns
        due = start + (frame.stamp_ns - first_stamp) / 1e9 / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        node_proc.check_alive()
        sent[frame.stamp_ns] = time.perf_counter()
        publisher.publish(frame.raw)
        replay.stamps.append(frame.stamp_ns)
        replay.frame_ids.append(frame.frame_id)
        if progress is not None:
            progress(1)
    return replay, sent


def _drain(node_proc: _NodeProcess, received: dict, lock: threading.Lock, expected: int) -> None:
    """Wait until every frame is answered or no output came for DRAIN_QUIET_S seconds."""
    count, last_change = -1, time.monotonic()
    while True:
        with lock:
            now_count = len(received)
        if now_count >= expected:
            return
        if now_count != count:
            count, last_change = now_count, time.monotonic()
        elif time.monotonic() - last_change > DRAIN_QUIET_S:
            return
        node_proc.check_alive()
        time.sleep(0.05)
