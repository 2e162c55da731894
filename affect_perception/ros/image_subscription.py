"""The camera subscription: ``image`` (or ``image/compressed``), sensor-data QoS with the
reliability ``image_reliability`` and the topic's publishers call for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from affect_perception.ros.image_qos import image_qos, publishers_reliable
from affect_perception.serving.reliability import wants_reliable
from affect_perception.serving.settings import NodeSettings


class ImageSubscription:
    """Opened while the node is active, closed otherwise.

    Attributes:
        topic: the relative topic name; reliable: the reliability subscribed with.
    """

    def __init__(
        self, node: Node, settings: NodeSettings, callback: Callable[[Any], None]
    ) -> None:
        self._node, self._callback = node, callback
        self._compressed = settings.use_compressed
        self._mode, self._depth = settings.image_reliability, settings.qos_depth
        self.topic = "image/compressed" if self._compressed else "image"
        self.reliable = False
        self._subscription: Any = None

    @property
    def resolved_topic(self) -> str:
        return self._node.resolve_topic_name(self.topic)

    def describe(self) -> str:
        """The subscription for a log line."""
        return (
            f"{self._subscription.topic_name} ({'compressed' if self._compressed else 'raw'}"
            f", {'reliable' if self.reliable else 'best effort'})"
        )

    def open(self) -> None:
        """Subscribe with the reliability wanted now."""
        self._subscribe(self._wanted())

    def follow_publishers(self) -> bool:
        """best_available, while open: resubscribe (and log it) when the publishers now call
        for the other reliability; True when it did."""
        if self._subscription is None or self._mode != "best_available":
            return False
        reliable = self._wanted()
        if reliable == self.reliable:
            return False
        self._subscribe(reliable)
        self._node.get_logger().info(
            "image publishers changed: now subscribed "
            + ("reliably" if reliable else "best effort")
        )
        return True

    def close(self) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def _wanted(self) -> bool:
        return wants_reliable(self._mode, publishers_reliable(self._node, self.resolved_topic))

    def _subscribe(self, reliable: bool) -> None:
        self.close()
        self.reliable = reliable
        self._subscription = self._node.create_subscription(
            CompressedImage if self._compressed else Image,
            self.topic,
            self._callback,
            image_qos(self._depth, reliable),
        )
