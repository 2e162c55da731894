"""Child process for test_ros_roundtrip: publishes numbered AffectStateArray messages."""

from __future__ import annotations

import sys

from rclpy.node import Node

from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.ros.spinning import init, run_until_signal


def main() -> int:
    init()
    node = Node("affect_test_publisher")
    pub = node.create_publisher(AffectStateArray, "affect", 10)
    count = 0

    def tick() -> None:
        nonlocal count
        msg = AffectStateArray()
        msg.header.stamp.sec = count
        msg.header.frame_id = "camera"
        msg.faces = [AffectState(track_id=f"f{count:04d}", valence=0.5, window_size=8)]
        pub.publish(msg)
        count += 1

    node.create_timer(0.05, tick)
    run_until_signal(node)
    return 0


if __name__ == "__main__":
    sys.exit(main())
