"""A real cross-process round trip of AffectStateArray over loopback DDS."""

from __future__ import annotations

from pathlib import Path

import pytest
from ros_support import spin_until, start_process, stop_process

pytestmark = pytest.mark.ros


def test_other_process_receives_affect_arrays(rclpy_init: None, tmp_path: Path) -> None:
    from rclpy.node import Node

    from affect_perception.msg import AffectStateArray

    received: list[AffectStateArray] = []
    node = Node("affect_test_subscriber")
    node.create_subscription(AffectStateArray, "affect", received.append, 10)
    proc = start_process(
        [str(Path(__file__).with_name("affect_publisher.py"))], tmp_path / "publisher.log"
    )
    try:
        assert spin_until(node, lambda: len(received) >= 3, timeout=30), (
            tmp_path / "publisher.log"
        ).read_text()
    finally:
        assert stop_process(proc) == 0, (tmp_path / "publisher.log").read_text()
        node.destroy_node()
    first, later = received[0], received[-1]
    assert first.header.frame_id == "camera"
    assert later.header.stamp.sec > first.header.stamp.sec
    assert later.faces[0].track_id == f"f{later.header.stamp.sec:04d}"
    assert later.faces[0].valence == pytest.approx(0.5)
