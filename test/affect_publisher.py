"""Child process for test_ros_roundtrip: publishes numbered AffectStateArray messages."""

from __future__ import annotations

import sys

import rclpy
from rclpy.node import Node

from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.ros.spinning import StopSignals, init, spin_until_shutdown


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
    with StopSignals() as signals:
        spin_until_shutdown(node, stop=signals.requested)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
