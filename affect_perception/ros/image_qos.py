"""The QoS of the image subscription, with the reliability
:func:`affect_perception.serving.reliability.wants_reliable` chose, and the reliability each
publisher of a topic offers."""

from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data


def image_qos(depth: int, reliable: bool) -> QoSProfile:
    """Sensor-data QoS (keep last ``depth``, volatile) with the chosen reliability."""
    return QoSProfile(
        history=qos_profile_sensor_data.history,
        depth=depth,
        reliability=(ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT),
        durability=qos_profile_sensor_data.durability,
    )


def publishers_reliable(node: Node, topic: str) -> list[bool]:
    """Each publisher of ``topic``: does it offer reliable delivery?"""
    return [
        info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        for info in node.get_publishers_info_by_topic(topic)
    ]
