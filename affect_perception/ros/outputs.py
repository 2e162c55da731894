"""The node's publishers: ``~/affect``, ``~/overlay``, the REP-155 per-face topics and the
tracked ids, and ``/diagnostics`` on a timer; created at configure, destroyed at cleanup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image
from std_msgs.msg import String

from affect_perception.frame_result import FrameResult
from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.ros.conversions import (
    TRACKED_TOPIC,
    face_token,
    face_topic,
    frame_message,
    image_message,
    tracked_ids_text,
)
from affect_perception.ros.diagnostics import diagnostic_array
from affect_perception.serving.health import Health
from affect_perception.serving.settings import NodeSettings
from affect_perception.visualize.overlay import draw_overlay

# Depth of the reliable output queues.
OUTPUT_DEPTH = 10
# Seconds between two /diagnostics messages.
DIAGNOSTICS_PERIOD_S = 1.0


class Outputs:
    """The publishers of one configured run of ``node``; ``on_timer`` is called every
    DIAGNOSTICS_PERIOD_S (it calls `publish_health`)."""

    def __init__(
        self, node: LifecycleNode, settings: NodeSettings, on_timer: Callable[[], None]
    ) -> None:
        self._node = node
        wanted = {
            "affect": (AffectStateArray, "~/affect", True),
            "overlay": (Image, "~/overlay", settings.publish_overlay),
            "tracked": (String, TRACKED_TOPIC, settings.publish_per_face),
        }
        self._lifecycle = {
            key: node.create_lifecycle_publisher(kind, topic, OUTPUT_DEPTH)
            for key, (kind, topic, on) in wanted.items()
            if on
        }
        self.diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_DEPTH)
        self._faces: dict[str, Any] = {}
        self._timer = node.create_timer(DIAGNOSTICS_PERIOD_S, on_timer)

    @property
    def affect_topic(self) -> str:
        return self._lifecycle["affect"].topic_name

    def publish(self, result: FrameResult, rgb: np.ndarray, msg: Any, removed: list[str]) -> None:
        """One processed frame (``removed``: the tracks that ended with it)."""
        affect = frame_message(result, msg.header)
        self._lifecycle["affect"].publish(affect)
        if "tracked" in self._lifecycle:
            self._publish_per_face(affect, removed)
        if "overlay" in self._lifecycle:
            self._lifecycle["overlay"].publish(
                image_message(draw_overlay(rgb, result), msg.header)
            )

    def publish_health(self, health: Health) -> None:
        """One DiagnosticArray named after the node."""
        self.diagnostics.publish(
            diagnostic_array(
                health,
                self._node.get_fully_qualified_name(),
                self._node.get_clock().now().to_msg(),
            )
        )

    def _publish_per_face(self, affect: AffectStateArray, removed: list[str]) -> None:
        for state in affect.faces:
            token = face_token(state.track_id)
            if token not in self._faces:
                self._faces[token] = self._node.create_publisher(
                    AffectState, face_topic(state.track_id), OUTPUT_DEPTH
                )
            self._faces[token].publish(state)
        for track_id in removed:
            publisher = self._faces.pop(face_token(track_id), None)
            if publisher is not None:
                self._node.destroy_publisher(publisher)
        self._lifecycle["tracked"].publish(
            String(data=tracked_ids_text([state.track_id for state in affect.faces]))
        )

    def destroy_per_face(self) -> None:
        """Destroy the per-face publishers (a face seen again gets a new one)."""
        for publisher in self._faces.values():
            self._node.destroy_publisher(publisher)
        self._faces = {}

    def destroy(self) -> None:
        """Destroy the timer and every publisher."""
        self._node.destroy_timer(self._timer)
        self.destroy_per_face()
        for publisher in self._lifecycle.values():
            self._node.destroy_lifecycle_publisher(publisher)
        self._node.destroy_publisher(self.diagnostics)
        self._lifecycle = {}
