"""The QoS of the image subscription: the ``image_reliability`` parameter's choice.

``best_available`` takes reliable delivery when every publisher of the topic offers it (large
raw images between processes arrive completely only then) and best effort otherwise, so it
matches every camera driver; the node re-decides when the publishers change. ROS 2 Iron added
a policy of that name to the middleware; this works on Humble too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RELIABILITIES = ("best_available", "best_effort", "reliable")


def wants_reliable(mode: str, publishers_reliable: Sequence[bool]) -> bool:
    """Whether to subscribe reliably, given the mode and each matched publisher's reliability
    (no publisher yet: best effort, which matches whatever comes)."""
    if mode == "best_available":
        return bool(publishers_reliable) and all(publishers_reliable)
    return mode == "reliable"


def image_qos(depth: int, reliable: bool) -> Any:
    """Sensor-data QoS (keep last ``depth``, volatile) with the chosen reliability."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    return QoSProfile(history=qos_profile_sensor_data.history, depth=depth,
                      reliability=(ReliabilityPolicy.RELIABLE if reliable
                                   else ReliabilityPolicy.BEST_EFFORT),
                      durability=qos_profile_sensor_data.durability)


def publishers_reliable(node: Any, topic: str) -> list[bool]:
    """Each publisher of ``topic``: does it offer reliable delivery?"""
    from rclpy.qos import ReliabilityPolicy

    return [info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            for info in node.get_publishers_info_by_topic(topic)]
