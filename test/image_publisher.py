"""Child process for test_large_images: a camera driver stand-in that publishes raw ``rgb8``
frames best effort (sensor-data QoS), as many drivers do, once a subscriber has matched."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

# First stamp, seconds (stamps are FIRST_STAMP_S + i / fps).
FIRST_STAMP_S = 100.0
# Longest wait for a subscriber, and time left after the last frame, seconds.
MATCH_WAIT_S = 60.0
LINGER_S = 1.0


def frame_message(index: int, fps: float, width: int, height: int) -> Image:
    """Frame ``index``: a grey gradient that moves with the index."""
    row = ((np.arange(width) + 4 * index) % 256).astype(np.uint8)
    rgb = np.repeat(np.broadcast_to(row, (height, width))[..., None], 3, axis=2)
    msg = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=rgb.tobytes())
    stamp = FIRST_STAMP_S + index / fps
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp), round(stamp % 1 * 1e9)
    msg.header.frame_id = "camera"
    return msg


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", default="image")
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    rclpy.init()
    node = Node("large_image_publisher")
    publisher = node.create_publisher(Image, args.topic, qos_profile_sensor_data)
    deadline = time.monotonic() + MATCH_WAIT_S
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print("no subscriber matched", flush=True)
            return 1
        rclpy.spin_once(node, timeout_sec=0.05)
    start = time.monotonic()
    for index in range(args.count):
        msg = frame_message(index, args.fps, args.width, args.height)
        time.sleep(max(0.0, start + index / args.fps - time.monotonic()))
        publisher.publish(msg)
    print(f"published {args.count} frames in {time.monotonic() - start:.1f} s", flush=True)
    rclpy.spin_once(node, timeout_sec=LINGER_S)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
