"""Large raw images between processes: a best-effort 640x480 rgb8 publisher at 15 fps (as many
camera drivers are) into the node. With the shipped Fast DDS profile in both processes'
environment every frame is answered; without it frames are lost on the way, and the node's
/diagnostics estimate of frames lost before arrival (stamp gaps) shows it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from ros_support import REPO, spin_until, start_process, stop_process

from affect_perception.ros.diagnostics import latest_value

pytestmark = [pytest.mark.ros, pytest.mark.slow]

PROFILE = REPO / "config" / "fastdds_large_images.xml"
PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"
FRAMES = 150
FPS = 15.0
TOPIC = "/large/image_raw"
NODE = "/affect_perception_node"
LOST_KEY = "frames lost before arrival (estimate)"
# Longest waits, seconds: the node configured and active, the stream and its last answers.
START_S = 60.0
STREAM_S = FRAMES / FPS + 60.0
DRAIN_S = 3.0


def run_stream(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict[str, str | None]]:
    """Start the node and the publisher with ``env``; (frames answered, the node's last
    diagnostics values of interest)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from affect_perception.msg import AffectStateArray

    probe = Node("large_images_probe")
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    answered: set[tuple[int, int]] = set()
    diagnostics: list = []
    probe.create_subscription(
        AffectStateArray,
        f"{NODE}/affect",
        lambda m: answered.add((m.header.stamp.sec, m.header.stamp.nanosec)),
        50,
    )
    probe.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    node = start_process(
        ["-m", "affect_perception.ros.node", "--ros-args", "-r", f"image:={TOPIC}"],
        tmp_path / "node.log",
        env,
    )
    publisher = None
    try:
        assert spin_until(
            probe,
            lambda: latest_value(diagnostics, NODE, "lifecycle state") == "active",
            START_S,
            executor,
        ), (tmp_path / "node.log").read_text()
        publisher = start_process(
            [
                str(REPO / "test" / "image_publisher.py"),
                "--topic",
                TOPIC,
                "--count",
                str(FRAMES),
                "--fps",
                str(FPS),
            ],
            tmp_path / "publisher.log",
            env,
        )
        assert spin_until(probe, lambda: publisher.poll() is not None, STREAM_S, executor)
        assert publisher.returncode == 0, (tmp_path / "publisher.log").read_text()
        end = time.monotonic() + DRAIN_S
        spin_until(
            probe, lambda: len(answered) >= FRAMES or time.monotonic() > end, DRAIN_S + 1, executor
        )
        diagnostics.clear()
        assert spin_until(probe, lambda: bool(diagnostics), START_S, executor)
        values = {
            key: latest_value(diagnostics, NODE, key) for key in ("frames received", LOST_KEY)
        }
    finally:
        if publisher is not None:
            stop_process(publisher)
        status = stop_process(node, signal.SIGINT)
        executor.shutdown()
        probe.destroy_node()
    assert status == 0, (tmp_path / "node.log").read_text()
    print(f"answered {len(answered)} of {FRAMES}; diagnostics {values}")
    return len(answered), values


def test_with_the_shipped_profile_every_frame_is_answered(
    rclpy_init: None, tmp_path: Path
) -> None:
    answered, values = run_stream(tmp_path, {PROFILE_VARIABLE: str(PROFILE)})
    assert answered >= 0.99 * FRAMES, (answered, values)
    assert int(values[LOST_KEY]) <= 0.01 * FRAMES, values


def test_without_it_the_loss_shows_in_diagnostics(
    rclpy_init: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PROFILE_VARIABLE, raising=False)
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    answered, values = run_stream(tmp_path, {})
    received = int(values["frames received"])
    assert answered < FRAMES and received < FRAMES, (answered, values)
    assert int(values[LOST_KEY]) > 0, values
    warning = "frames are lost before they reach the node"
    log = (tmp_path / "node.log").read_text()
    assert warning in log and "FASTRTPS_DEFAULT_PROFILES_FILE=" in log  # the remedy, named
    assert log.count(warning) <= 2  # throttled


def test_best_available_follows_the_publishers(rclpy_init: None, tmp_path: Path) -> None:
    """No publisher: best effort; a reliable one appears: reliable; a best-effort one joins:
    best effort again (the node re-decides once a second)."""
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import Image

    probe = Node("best_available_probe")
    node = start_process(
        ["-m", "affect_perception.ros.node", "--ros-args", "-r", f"image:={TOPIC}"],
        tmp_path / "node.log",
    )

    def subscribed(policy: ReliabilityPolicy) -> bool:
        infos = probe.get_subscriptions_info_by_topic(TOPIC)
        return len(infos) == 1 and infos[0].qos_profile.reliability == policy

    try:
        assert spin_until(probe, lambda: subscribed(ReliabilityPolicy.BEST_EFFORT), START_S), (
            tmp_path / "node.log"
        ).read_text()
        probe.create_publisher(Image, TOPIC, QoSProfile(depth=1))  # reliable by default
        assert spin_until(probe, lambda: subscribed(ReliabilityPolicy.RELIABLE), 10.0)
        probe.create_publisher(Image, TOPIC, qos_profile_sensor_data)
        assert spin_until(probe, lambda: subscribed(ReliabilityPolicy.BEST_EFFORT), 10.0)
    finally:
        status = stop_process(node, signal.SIGINT)
        probe.destroy_node()
    assert status == 0
    assert "now subscribed reliably" in (tmp_path / "node.log").read_text()
