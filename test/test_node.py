"""affect_perception_node as a real process over loopback: synthetic faces in at 30 fps, affect
out with the source stamps, stable ids and warm windows; bad frames counted and survived;
per-face topics, overlay and parameters at run time; clean SIGTERM; refused start-ups."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from ros_support import spin_until, start_process, stop_process

from affect_perception.ros.diagnostics import latest_value
from affect_perception.synth.scene import render_video

pytestmark = pytest.mark.ros

FPS = 30.0
SIZE = (320, 240)
WINDOW = 8  # the random_model_dir fixture's window
# What the node says the random_model_dir fixture's outputs were taught on.
UNTRAINED_OUTPUTS = "untrained: valence and arousal, all 12 AUs, all 6 EMI, A/H"
# A synthetic video whose one face stays fully in view for the frames used here.
SEED = 3  # the face stays in view and BlazeFace finds it in every frame
NODE = "/affect_perception_node"
# Longest waits: node start-up (model load) and any one message.
START_S = 40.0
MESSAGE_S = 10.0


def node_args(model_dir: Path, *extra: str) -> list[str]:
    return [
        "-m",
        "affect_perception.ros.node",
        "--ros-args",
        "--params-file",
        "config/affect.yaml",
        "-p",
        f"model_dir:={model_dir}",
        *[arg for p in extra for arg in ("-p", p)],
    ]


def header(index: int):
    from std_msgs.msg import Header

    h = Header(frame_id="camera")
    h.stamp.sec, h.stamp.nanosec = 1000 + index // 30, (index % 30) * 33_333_333
    return h


def stamp_of(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class Harness:
    """A test node that plays frames into the node under test and records what comes out."""

    def __init__(self, image_type: type, image_topic: str) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        from affect_perception.msg import AffectStateArray

        self.node = Node("affect_node_test")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.publisher = self.node.create_publisher(image_type, image_topic, 10)
        self.affect: list = []
        self.diagnostics: list = []
        self.affect_sub = self.node.create_subscription(
            AffectStateArray, f"{NODE}/affect", self.affect.append, 100
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        return spin_until(self.node, condition, timeout, executor=self.executor)

    def wait_connected(self, proc, log: Path) -> None:
        connected = self.spin_until(
            lambda: (
                proc.poll() is not None
                or (
                    self.publisher.get_subscription_count() > 0
                    and self.affect_sub.get_publisher_count() > 0
                )
            ),
            START_S,
        )
        assert connected and proc.poll() is None, log.read_text()

    def play(self, messages: list, bad_after: dict[int, list]) -> None:
        """Publish ``messages`` at 30 fps. Before frame i in ``bad_after``, wait for the output
        of frame i - 1 (the worker is then idle), publish each bad message of that entry and
        give the worker a moment, so no bad frame is dropped as stale before it is decoded."""
        due = time.monotonic()
        for i, msg in enumerate(messages):
            for bad in bad_after.get(i, []):
                want = stamp_of(messages[i - 1])
                assert self.spin_until(
                    lambda w=want: any(stamp_of(m) == w for m in self.affect), MESSAGE_S
                )
                self.publisher.publish(bad)
                self.spin_until(lambda: False, 0.15)
                due = time.monotonic()
            self.publisher.publish(msg)
            due += 1 / FPS
            self.spin_until(lambda d=due: time.monotonic() >= d, 1.0)

    def diagnostic(self, key: str) -> str | None:
        return latest_value(self.diagnostics, NODE, key)

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()


def synthetic_frames(count: int) -> list[np.ndarray]:
    frames = [f.image for f in render_video(SEED, count, faces=1, size=SIZE, fps=FPS)]
    return frames


def check_affect_stream(affect: list, sent: dict[tuple[int, int], int], bad: set) -> None:
    """Stamps, ids, value ranges and window warm-up of the received AffectStateArrays."""
    assert affect, "no AffectStateArray received"
    for msg in affect:
        assert stamp_of(msg) in sent, f"stamp {stamp_of(msg)} was never sent"
        assert stamp_of(msg) not in bad
        assert msg.header.frame_id == "camera"
    faces = [face for msg in affect for face in msg.faces]
    assert faces, "no face found in the synthetic frames"
    assert len({face.track_id for face in faces}) == 1  # one face, one id throughout
    for face in faces:
        assert face.header == faces[0].header or face.header.frame_id == "camera"
        assert -1 <= face.valence <= 1 and -1 <= face.arousal <= 1
        values = [
            face.hesitancy_probability,
            face.detection_score,
            *face.au_probabilities,
            *face.emi_intensities,
        ]
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in values)
        assert face.window_size == WINDOW and face.model_id
        # quality figures; the baseline is off, so the corrected values are the raw ones
        assert face.face_size > 0 and 0 <= face.frontalness <= 1 and face.sharpness > 0
        assert face.window_real_frames <= face.window_fill
        assert not face.reliable or face.window_fill == WINDOW
        assert face.valence_corrected == face.valence and face.baseline_frames == 0
        assert list(face.au_probabilities_corrected) == list(face.au_probabilities)
    fills = [face.window_fill for face in faces]
    assert fills[:WINDOW] == list(range(1, WINDOW + 1))  # one more frame per processed frame
    assert set(fills[WINDOW:]) == {WINDOW}  # then warm


@pytest.fixture
def harness(rclpy_init: None):
    created: list[Harness] = []

    def make(image_type: type, topic: str) -> Harness:
        created.append(Harness(image_type, topic))
        return created[-1]

    yield make
    for h in created:
        h.close()


def test_raw_stream_with_bad_frames_and_runtime_parameters(
    harness, random_model_dir: Path, tmp_path: Path
) -> None:
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from affect_perception.ros.conversions import image_message

    log = tmp_path / "node.log"
    proc = start_process(node_args(random_model_dir) + ["-r", "image:=/test/image"], log)
    try:
        h = harness(Image, "/test/image")
        messages = [image_message(rgb, header(i)) for i, rgb in enumerate(synthetic_frames(60))]
        good = messages[10]
        wrong_encoding = image_message(np.zeros((8, 8, 3), np.uint8), header(900))
        wrong_encoding.encoding = "rgb7"
        wrong_step = image_message(np.zeros((8, 8, 3), np.uint8), header(901))
        wrong_step.step = 8 * 3 - 1
        truncated = image_message(np.zeros((8, 8, 3), np.uint8), header(902))
        truncated.data = bytes(good.data[:100])
        bad = [wrong_encoding, wrong_step, truncated]
        h.wait_connected(proc, log)
        h.play(messages, {30: bad})
        assert h.spin_until(lambda: stamp_of(h.affect[-1]) == stamp_of(messages[-1]), MESSAGE_S)

        sent = {stamp_of(m): i for i, m in enumerate(messages)}
        check_affect_stream(h.affect, sent, {stamp_of(m) for m in bad})
        assert sum(sent[stamp_of(m)] > 30 for m in h.affect) >= 10  # goes on after bad frames
        assert h.spin_until(
            lambda: (
                h.diagnostic("decode errors") == "3"
                and int(h.diagnostic("frames processed")) == len(h.affect)
            ),
            3.0,
        ), h.diagnostics[-1]
        assert h.diagnostic("warm windows") == "1" and h.diagnostic("faces tracked") == "1"
        assert h.diagnostic("outputs taught on") == UNTRAINED_OUTPUTS
        assert h.diagnostic("real-face evidence").startswith("none")

        client = h.node.create_client(SetParameters, f"{NODE}/set_parameters")
        assert client.wait_for_service(timeout_sec=MESSAGE_S)

        def set_parameter(name: str, value: object):
            request = SetParameters.Request(
                parameters=[Parameter(name, value=value).to_parameter_msg()]
            )
            future = client.call_async(request)
            assert h.spin_until(future.done, MESSAGE_S)
            return future.result().results[0]

        assert set_parameter("ah_threshold", 0.3).successful
        assert set_parameter("detector.score_threshold", 0.6).successful
        assert set_parameter("au_threshold", [0.4] * 12).successful
        refused = set_parameter("au_threshold", [0.4, 0.5])
        assert not refused.successful and "au_threshold" in refused.reason
        refused = set_parameter("ah_threshold", 1.5)
        assert not refused.successful
        refused = set_parameter("use_compressed", True)  # static: only while unconfigured
        assert not refused.successful and "'use_compressed': static, it changes only while" in (
            refused.reason
        )
        refused = set_parameter("autostart", False)  # read at start-up only
        assert not refused.successful and "read-only parameter: autostart" in refused.reason
        # the node still answers with the new thresholds in force
        count = len(h.affect)
        h.play(
            [image_message(rgb, header(100 + i)) for i, rgb in enumerate(synthetic_frames(10))], {}
        )
        assert h.spin_until(lambda: len(h.affect) > count, MESSAGE_S)
    finally:
        code = stop_process(proc, signal.SIGTERM)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert "cannot be decoded" in text  # logged (throttled: the first of the three)
    assert "set ah_threshold=0.3" in text
    assert f"outputs taught on {UNTRAINED_OUTPUTS}; real-face evidence: none" in text


def test_compressed_stream_with_corrupt_jpeg_per_face_topics_and_overlay(
    harness, random_model_dir: Path, tmp_path: Path
) -> None:
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import String

    from affect_perception.msg import AffectState
    from affect_perception.ros.conversions import compressed_message

    log = tmp_path / "node.log"
    proc = start_process(
        node_args(
            random_model_dir,
            "use_compressed:=true",
            "image_reliability:=reliable",
            "publish_per_face:=true",
            "publish_overlay:=true",
        )
        + ["-r", "image/compressed:=/test/image/compressed"],
        log,
    )
    try:
        h = harness(CompressedImage, "/test/image/compressed")
        tracked: list[str] = []
        per_face: list = []
        overlays: list = []
        subscriptions: dict[str, object] = {}

        def on_tracked(msg: String) -> None:
            tracked.append(msg.data)
            for token in filter(None, msg.data.split(",")):
                if token not in subscriptions:
                    subscriptions[token] = h.node.create_subscription(
                        AffectState, f"/humans/faces/{token}/affect", per_face.append, 10
                    )

        h.node.create_subscription(String, "/humans/faces/tracked", on_tracked, 10)
        h.node.create_subscription(Image, f"{NODE}/overlay", overlays.append, 10)
        messages = [
            compressed_message(rgb, header(i), "jpeg" if i % 2 else "png")
            for i, rgb in enumerate(synthetic_frames(60))
        ]
        corrupt = compressed_message(np.zeros((8, 8, 3), np.uint8), header(900))
        corrupt.data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4  # JPEG magic, then junk
        unknown_format = compressed_message(np.zeros((8, 8, 3), np.uint8), header(901))
        unknown_format.format = "tiff"
        h.wait_connected(proc, log)
        h.play(messages, {25: [corrupt, unknown_format]})
        assert h.spin_until(
            lambda: stamp_of(h.affect[-1]) == stamp_of(messages[-1]) and per_face and overlays,
            MESSAGE_S,
        )

        sent = {stamp_of(m): i for i, m in enumerate(messages)}
        check_affect_stream(h.affect, sent, {stamp_of(corrupt), stamp_of(unknown_format)})
        assert h.spin_until(lambda: h.diagnostic("decode errors") == "2", 3.0)
        track_id = h.affect[-1].faces[0].track_id
        assert tracked[-1] == track_id
        assert {face.track_id for face in per_face} == {track_id}
        assert all(stamp_of(face) in sent for face in per_face)
        overlay = overlays[-1]
        assert (overlay.encoding, overlay.width, overlay.height) == ("rgb8", *SIZE)
        assert overlay.step == SIZE[0] * 3 and len(overlay.data) == SIZE[0] * SIZE[1] * 3
        assert stamp_of(overlay) in sent
        # the face leaves: once its track ends, its topic goes and the tracked list empties
        topic = f"/humans/faces/{track_id}/affect"
        assert h.node.count_publishers(topic) == 1
        blank = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
        h.play([compressed_message(blank, header(100 + i)) for i in range(40)], {})
        assert h.spin_until(
            lambda: tracked[-1] == "" and h.node.count_publishers(topic) == 0, MESSAGE_S
        ), tracked[-3:]
    finally:
        code = stop_process(proc, signal.SIGINT)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model_dir:=/nonexistent/model",
            "parameter 'model_dir': /nonexistent/model lacks encoder.onnx",
        ),
        ("ah_threshold:=1.5", "parameter 'ah_threshold': 1.5 is outside (0, 1)"),
        ("detector.variant:=side", "parameter 'detector.variant': 'side' is not one of"),
        ("au_threshold:=[0.5,0.2]", "parameter 'au_threshold': needs 1 or 12 values, got 2"),
    ],
)
def test_bad_parameters_stop_start_up_with_one_clear_message(
    random_model_dir: Path, tmp_path: Path, override: str, expected: str
) -> None:
    log = tmp_path / "node.log"
    proc = start_process(node_args(random_model_dir, override), log)
    try:
        proc.wait(timeout=START_S)
    finally:
        code = stop_process(proc)
    text = log.read_text()
    assert code == 2, text
    assert expected in text
    assert "Traceback" not in text
