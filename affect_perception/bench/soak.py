"""The live node under load: frames at a fixed rate for a while; memory and latency over time.

:class:`NodeUnderLoad` starts ``affect_perception_node`` as a child process, publishes camera
frames to it from an in-process rclpy node on an absolute schedule, and records every
``~/affect`` message (latency: its arrival here minus the stamp of the frame it answers, which
is the wall-clock time the frame was published), the node's resident memory once a second
(from /proc) and its ``/diagnostics``. `soak` runs it for minutes and reports the drift of
memory and latency; the reliability tests use it for bursts and shutdown under load. The
caller initialises rclpy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from affect_perception.bench.memory import growth, rss_mib
from affect_perception.child_process import stop_child

if TYPE_CHECKING:
    from rclpy.qos import QoSProfile

NODE = "/affect_perception_node"
# Where the frames go (the node's ``image`` is remapped here).
IMAGE_TOPIC = "/affect_load/image"
# Longest wait for the node to load its models and connect, and for a clean exit, in seconds.
START_S = 60.0
STOP_S = 15.0
# Seconds between two memory samples of the node.
RSS_PERIOD_S = 1.0
# Frames rendered up front and played forwards then backwards (faces never jump).
RENDERED_FRAMES = 60
VIDEO_SEED = 11
# Coming-and-going runs: each of two faces is in view IN_VIEW_S of every COMING_PERIOD_S
# seconds, the second one COMING_OFFSET_S later in its period.
COMING_PERIOD_S = (14.0, 19.0)
IN_VIEW_S = (9.0, 11.0)
COMING_OFFSET_S = 5.0
# Start-up left out of the drift figures: this share of the run, at most SETTLE_MAX_S seconds.
SETTLE_FRACTION = 0.25
SETTLE_MAX_S = 60.0
# /diagnostics counters reported at the end of a soak.
DIAGNOSTIC_COUNTS = (
    "frames received",
    "frames processed",
    "frames dropped (stale)",
    "decode errors",
    "processing errors",
)


@dataclass
class LoadRecord:
    """What one `NodeUnderLoad.play` saw.

    Attributes:
        fps: rate asked for.
        seconds: how long frames were published.
        sent: frames published.
        latency: (seconds since the start, milliseconds) per ``~/affect`` message received.
        rss: (seconds since the start, MiB) node memory samples.
        faces: faces per received message.
        track_ids: the track ids seen in the answers.
    """

    fps: float
    seconds: float
    sent: int = 0
    latency: list[tuple[float, float]] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    faces: list[int] = field(default_factory=list)
    track_ids: set[str] = field(default_factory=set)

    def latency_ms(self, start_s: float = 0.0, end_s: float = float("inf")) -> np.ndarray:
        """Latencies of the messages received between ``start_s`` and ``end_s``."""
        return np.array([ms for t, ms in self.latency if start_s <= t < end_s])

    def rss_mib(self) -> list[float]:
        """Memory samples in MiB, oldest first."""
        return [mib for _, mib in self.rss]


def render_messages(faces: int, size: tuple[int, int], encoding: str = "rgb8") -> list:
    """Synthetic ``sensor_msgs/Image`` frames with ``faces`` faces, played ping-pong."""
    from std_msgs.msg import Header

    from affect_perception.ros.conversions import image_message
    from affect_perception.synth.scene import render_video

    frames = [
        image_message(f.image, Header(frame_id="camera"), encoding)
        for f in render_video(VIDEO_SEED, RENDERED_FRAMES // 2, faces=faces, size=size)
    ]
    return frames + frames[::-1]


def present(person: int, second: float) -> bool:
    """Whether face ``person`` is in view ``second`` seconds into a coming-and-going run.

    Each face has its own period (in view for IN_VIEW_S of it, then away), offset by person,
    so no face, either one alone and both are all seen in every few periods.
    """
    period, in_view = COMING_PERIOD_S[person % 2], IN_VIEW_S[person % 2]
    return (second + COMING_OFFSET_S * person) % period < in_view


class ComingAndGoing:
    """Frames with up to two faces that enter and leave the view, as a sequence for `play`.

    The same video is rendered once per subset of faces present (none, each alone, both), so
    every frame shows the same background and people; frame ``i`` takes the subset that
    `present` says for its time. Faces appear and vanish from one frame to the next (the
    tracker must start new tracks and retire old ones).
    """

    def __init__(self, size: tuple[int, int], fps: float, encoding: str = "rgb8") -> None:
        from std_msgs.msg import Header

        from affect_perception.ros.conversions import image_message
        from affect_perception.synth.scene import Video

        self.fps = fps
        self.subsets: dict[tuple[int, ...], list] = {}
        video = Video(VIDEO_SEED, RENDERED_FRAMES // 2, faces=2, size=size, fps=fps)
        identities, tracks = video.identities, video.tracks
        for subset in ((), (0,), (1,), (0, 1)):
            video.identities = [identities[k] for k in subset]
            video.tracks = [tracks[k] for k in subset]
            frames = [
                image_message(video.render(i).image, Header(frame_id="camera"), encoding)
                for i in range(video.frames)
            ]
            self.subsets[subset] = frames + frames[::-1]

    def faces_at(self, index: int) -> tuple[int, ...]:
        """The faces in view in frame ``index``."""
        return tuple(k for k in (0, 1) if present(k, index / self.fps))

    def __len__(self) -> int:
        return sys.maxsize

    def __getitem__(self, index: int) -> object:
        frames = self.subsets[self.faces_at(index)]
        return frames[index % len(frames)]


class NodeUnderLoad:
    """``affect_perception_node`` in a child process, driven from this one.

    Args:
        model_dir: the model folder (``model_dir`` parameter).
        log_path: file for the node's output.
        params: other node parameters, name -> value as written after ``-p name:=``.
        image_type: ``sensor_msgs/Image`` (default) or ``CompressedImage`` (set
            ``use_compressed`` in ``params`` too).
        ros_args: more ROS arguments for the node after the parameters (e.g. ``--enclave``).
        publisher_qos: the image publisher's QoS (default: sensor data, best effort, as camera
            drivers publish; a reliable one keeps the transport from losing frames under load).
    """

    def __init__(
        self,
        model_dir: Path,
        log_path: Path,
        params: dict[str, object] | None = None,
        image_type: type | None = None,
        ros_args: list[str] | None = None,
        publisher_qos: QoSProfile | None = None,
    ) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from affect_perception.msg import AffectStateArray

        self.image_type = image_type or Image
        compressed = self.image_type is not Image
        topic = IMAGE_TOPIC + ("/compressed" if compressed else "")
        args = [
            sys.executable,
            "-m",
            "affect_perception.ros.node",
            "--ros-args",
            "-p",
            f"model_dir:={model_dir}",
            "-r",
            f"{'image/compressed' if compressed else 'image'}:={topic}",
        ]
        for name, value in (params or {}).items():
            args += ["-p", f"{name}:={value}"]
        args += ros_args or []
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.node = rclpy.create_node(f"affect_load_{os.getpid()}")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.publisher = self.node.create_publisher(
            self.image_type, topic, publisher_qos or qos_profile_sensor_data
        )
        self.outputs: list[tuple[float, object]] = []  # (arrival wall time, message)
        self.diagnostics: list = []
        self._affect = self.node.create_subscription(
            AffectStateArray, f"{NODE}/affect", self._on_affect, 100
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)

    def _on_affect(self, msg: object) -> None:
        self.outputs.append((time.time(), msg))

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Handle incoming messages until ``condition()`` holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.executor.spin_once(timeout_sec=min(left, 0.05))
        return True

    def wait_ready(self, timeout: float = START_S) -> None:
        """Wait until the node subscribes to the frames and publishes ``~/affect``.

        Raises:
            RuntimeError: the node exited or did not connect in time (its log attached).
        """
        ready = self.spin_until(
            lambda: (
                self.process.poll() is not None
                or (
                    self.publisher.get_subscription_count() > 0
                    and self._affect.get_publisher_count() > 0
                )
            ),
            timeout,
        )
        if not ready or self.process.poll() is not None:
            raise RuntimeError(f"the node did not start:\n{self.log_path.read_text()[-3000:]}")

    def publish(self, msg: object) -> float:
        """Publish one frame stamped with the wall-clock time now; returns that time."""
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        self.publisher.publish(msg)
        return now / 1e9

    def play(
        self,
        messages: Sequence,
        fps: float,
        seconds: float,
        on_second: Callable[[int], None] | None = None,
    ) -> LoadRecord:
        """Publish ``messages`` in a loop at ``fps`` for ``seconds`` and record the answers.

        Args:
            on_second: called with the number of whole seconds elapsed, once a second (for
                progress reports or a signal sent mid-run).
        """
        record = LoadRecord(fps=fps, seconds=seconds)
        first_output = len(self.outputs)
        start = time.monotonic()
        start_wall = time.time()
        next_sample = start
        for index in range(int(fps * seconds)):
            due = start + index / fps
            self.spin_until(lambda d=due: time.monotonic() >= d, due - time.monotonic() + 1)
            now = time.monotonic()
            if now >= next_sample:
                if self.process.poll() is not None:
                    break
                record.rss.append((now - start, rss_mib(self.process.pid)))
                if on_second is not None and next_sample > start:
                    on_second(round(next_sample - start))
                next_sample += RSS_PERIOD_S
            self.publish(messages[index % len(messages)])
            record.sent += 1
        self.spin_until(lambda: False, 0.5)  # answers still in flight
        for arrival, msg in self.outputs[first_output:]:
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            record.latency.append((arrival - start_wall, (arrival - stamp) * 1e3))
            record.faces.append(len(msg.faces))
            record.track_ids.update(face.track_id for face in msg.faces)
        return record

    def diagnostic(self, key: str) -> str | None:
        """The latest value of ``key`` in the node's ``/diagnostics`` status, if any yet."""
        from affect_perception.ros.diagnostics import latest_value

        return latest_value(self.diagnostics, NODE, key)

    def fresh_diagnostic(self, key: str, timeout: float = 3.0) -> str | None:
        """``key`` from a ``/diagnostics`` message sent after this call (waits for one)."""
        seen = len(self.diagnostics)
        self.spin_until(lambda: len(self.diagnostics) > seen, timeout)
        return self.diagnostic(key)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_S) -> int:
        """Signal the node, wait for its exit (kill after ``timeout``) and return its status."""
        status = stop_child(self.process, sig, timeout)
        self._log.close()
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        return status


def soak_summary(record: LoadRecord, settle_s: float) -> dict[str, object]:
    """Memory growth and latency drift of a long run, after ``settle_s`` seconds of start-up.

    Latency drift compares the median latency of the first and the last minute after the
    settling time (the first and last quarter when the run is shorter than four minutes).
    """
    span = record.seconds - settle_s
    part = 60.0 if span >= 240 else span / 4
    first = record.latency_ms(settle_s, settle_s + part)
    last = record.latency_ms(record.seconds - part, record.seconds)
    settle_samples = sum(t < settle_s for t, _ in record.rss)
    all_ms = record.latency_ms(settle_s)
    minutes = int(record.seconds // 60)
    per_minute = [record.latency_ms(60 * m, 60 * (m + 1)) for m in range(minutes)]
    return {
        "seconds": record.seconds,
        "fps": record.fps,
        "sent": record.sent,
        "answered": len(record.latency),
        "output_fps": len(all_ms) / span,
        "faces_per_answer": float(np.mean(record.faces)) if record.faces else 0.0,
        "track_ids": len(record.track_ids),
        "answers_by_faces": {
            str(n): int(c)
            for n, c in zip(*np.unique(record.faces, return_counts=True), strict=True)
        },
        "rss_mib_first": record.rss[settle_samples][1],
        "rss_mib_last": record.rss[-1][1],
        "rss_mib_max": max(record.rss_mib()),
        "rss_growth": growth(record.rss_mib(), settle_samples),
        "latency_ms_p50": float(np.median(all_ms)),
        "latency_ms_p99": float(np.percentile(all_ms, 99)),
        "latency_p50_first_ms": float(np.median(first)),
        "latency_p50_last_ms": float(np.median(last)),
        "latency_drift": float(np.median(last) / np.median(first)),
        "latency_p50_per_minute_ms": [float(np.median(m)) if len(m) else None for m in per_minute],
        "rss_mib_per_minute": [mib for t, mib in record.rss if round(t) % 60 == 0],
    }


def soak(
    model_dir: Path,
    minutes: float,
    log_path: Path,
    fps: float = 30.0,
    faces: int = 1,
    size: tuple[int, int] = (640, 480),
    params: dict[str, object] | None = None,
    progress: Callable[[int], None] | None = None,
    coming: bool = False,
) -> dict[str, object]:
    """Run the node for ``minutes`` at ``fps`` and summarise memory and latency drift.

    With ``coming``, two faces enter and leave the view (`ComingAndGoing`; ``faces`` unused).

    Initialises and shuts down rclpy itself; discovery stays on this machine unless
    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` says otherwise.

    Returns:
        `soak_summary` figures plus the node's exit status and final ``/diagnostics`` counts.
    """
    import rclpy

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    seconds = minutes * 60
    rclpy.init()
    try:
        load = NodeUnderLoad(model_dir, log_path, params)
        try:
            load.wait_ready()
            frames = ComingAndGoing(size, fps) if coming else render_messages(faces, size)
            record = load.play(frames, fps, seconds, on_second=progress)
            counts = {key: load.fresh_diagnostic(key) for key in DIAGNOSTIC_COUNTS}
        finally:
            code = load.stop(signal.SIGTERM)
    finally:
        rclpy.try_shutdown()
    summary = soak_summary(record, settle_s=min(SETTLE_MAX_S, seconds * SETTLE_FRACTION))
    summary.update(
        faces="2, entering and leaving" if coming else faces,
        size=list(size),
        exit_code=code,
        diagnostics=counts,
    )
    return summary
