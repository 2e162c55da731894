"""AffectServer without rclpy: configure (errors blamed on their parameter), the active gate
around the pipeline, counted bad frames, the static/dynamic parameter policy and the health
snapshot. Image messages are rosbags' sensor_msgs/Image (no ROS graph)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from affect_perception.evaluation.bag_types import affect_typestore
from affect_perception.frame_result import FrameResult
from affect_perception.serving.server import AffectServer
from affect_perception.serving.settings import ParameterError

TIMEOUT_S = 30.0


class Lines:
    """A logger keeping (level, text) per call."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str, **kwargs: Any) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str, **kwargs: Any) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str, **kwargs: Any) -> None:
        self.lines.append(("error", message))


def image(
    sec: int, width: int = 64, height: int = 48, encoding: str = "rgb8", data: bytes | None = None
) -> Any:
    """A sensor_msgs/Image of a grey frame stamped ``sec`` seconds."""
    types = affect_typestore().types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=0), frame_id="cam"
    )
    pixels = (
        np.full(height * width * 3, 90, np.uint8)
        if data is None
        else np.frombuffer(data, np.uint8)
    )
    return types["sensor_msgs/msg/Image"](
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * 3,
        data=pixels,
    )


class Published:
    """What the server published, with an event per frame."""

    def __init__(self) -> None:
        self.frames: list[tuple[FrameResult, Any]] = []
        self.event = threading.Event()

    def __call__(self, result: FrameResult, rgb: np.ndarray, msg: Any) -> None:
        self.frames.append((result, msg))
        self.event.set()


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def server(random_model_dir: Path) -> Any:
    published = Published()
    server = AffectServer(Lines(), published)
    server.configure(
        {"model_dir": str(random_model_dir), "intra_op_threads": 1, "detector.backend": "haar"}
    )
    yield server, published
    server.release(5.0)


def test_a_refused_override_fails_configure_naming_it(random_model_dir: Path) -> None:
    server = AffectServer(Lines(), Published())
    server.refused = {"max_faces": "'abc' is not an integer"}
    with pytest.raises(ParameterError, match="parameter 'max_faces': 'abc'"):
        server.configure({"model_dir": str(random_model_dir)})
    assert not server.configured
    # setting it again (unconfigured: checked against its row) forgets the refusal
    assert server.set_parameters({"max_faces": 3}) is None and server.refused == {}
    assert "outside" in server.set_parameters({"max_faces": 0})


def test_a_model_that_does_not_load_is_blamed_on_model_dir(tmp_path: Path) -> None:
    for name in ("encoder.onnx", "temporal.onnx"):
        (tmp_path / name).write_bytes(b"not onnx")
    server = AffectServer(Lines(), Published())
    with pytest.raises(ParameterError, match="parameter 'model_dir'"):
        server.configure({"model_dir": str(tmp_path)})
    assert not server.configured


def test_frames_are_published_only_while_active(server: Any) -> None:
    server, published = server
    server.arrive(image(1))
    wait_for(lambda: server.worker.counts().handled == 1)
    assert published.frames == []  # configured, inactive: processed by nobody
    server.activate()
    server.arrive(image(2))
    assert published.event.wait(TIMEOUT_S)
    ((result, msg),) = published.frames
    assert msg.header.stamp.sec == 2 and result.stamp == pytest.approx(2.0)
    server.deactivate()
    server.arrive(image(3))
    wait_for(lambda: server.worker.counts().handled == 3)
    assert len(published.frames) == 1


def test_bad_frames_are_counted_and_logged_and_the_health_says_so(server: Any) -> None:
    server, published = server
    server.activate()
    server.arrive(image(1, encoding="no-such-encoding"))  # refused in the callback
    server.arrive(image(2, data=b"\x00" * 10))  # too short for its size
    server.arrive(image(3))
    assert published.event.wait(TIMEOUT_S)
    wait_for(lambda: server.worker.counts().received == 3)
    health = server.health("/camera/image")
    assert health.decode_errors == 2 and health.processing_errors == 0
    assert health.received == 3 and health.topic == "/camera/image"
    assert health.state == "active" and health.window_size == 8
    warnings = [text for level, text in server._log.lines if level == "warning"]
    assert any("cannot be decoded (stamp 1.000000000)" in text for text in warnings)


def test_static_parameters_are_refused_while_configured_dynamic_ones_apply(server: Any) -> None:
    server, _ = server
    reason = server.set_parameters({"max_faces": 2})
    assert reason is not None and "parameter 'max_faces': static" in reason
    assert server.settings.pipeline.max_faces == 4
    assert server.set_parameters({"ah_threshold": 0.7}) is None
    assert server.pipeline.config.ah_threshold == pytest.approx(0.7)
    assert "outside" in server.set_parameters({"ah_threshold": 1.5})
    assert server.pipeline.config.ah_threshold == pytest.approx(0.7)  # nothing changed
