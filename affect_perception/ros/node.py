"""`affect_perception_node`: camera images in, per-face affect out (a thin node).

The subscription callback only hands the newest image to a :class:`FrameWorker`; the worker
decodes it, runs :class:`AffectPipeline` and publishes. Parameters come from one table
(:mod:`.parameters`), messages from :mod:`.conversions`, health from :mod:`.diagnostics`.
Topics and parameters are documented in docs/NODE.md.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.ros.conversions import (
    TRACKED_TOPIC,
    face_token,
    face_topic,
    frame_message,
    image_message,
    stamp_to_seconds,
    tracked_ids_text,
)
from affect_perception.ros.diagnostics import CounterRate, Health, diagnostic_array
from affect_perception.ros.frame_worker import FrameWorker
from affect_perception.ros.parameters import (
    BY_NAME,
    PARAMETERS,
    ParameterError,
    build_settings,
    descriptor,
)
from affect_perception.runtime.engine import ModelLoadError
from affect_perception.runtime.image_decode import (
    ImageDecodeError,
    decode_compressed_msg,
    decode_image_msg,
)
from affect_perception.runtime.pipeline import AffectPipeline
from affect_perception.visualize.overlay import draw_overlay

NODE_NAME = "affect_perception_node"
# Seconds between two log lines about bad frames (each kind is throttled on its own).
LOG_THROTTLE_S = 5.0
# Seconds between two /diagnostics messages.
DIAGNOSTICS_PERIOD_S = 1.0
# Longest wait for the worker to finish its frame at shutdown, in seconds.
STOP_TIMEOUT_S = 5.0
# Depth of the reliable output queues.
OUTPUT_DEPTH = 10
# Exit status when start-up fails on a parameter.
EXIT_BAD_PARAMETER = 2


class AffectPerceptionNode(Node):
    """Subscribes to ``image`` (or ``image/compressed``), publishes ``~/affect`` and more.

    Raises:
        ParameterError: a parameter value (including a missing model) stops start-up.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.settings = build_settings(self._declare_parameters())
        self.pipeline = _load_pipeline(self.settings)
        self._lock = threading.Lock()  # the pipeline against parameter changes
        self._decode_errors = 0
        self._last_input = float("-inf")
        self._latency = (float("nan"), float("nan"))
        self._faces = (0, 0)  # faces, warm faces in the last frame
        self._rates = {name: CounterRate() for name in
                       ("received", "handled", "dropped", "decode_errors", "failed")}
        self._affect_pub = self.create_publisher(AffectStateArray, "~/affect", OUTPUT_DEPTH)
        self._overlay_pub = (self.create_publisher(Image, "~/overlay", OUTPUT_DEPTH)
                             if self.settings.publish_overlay else None)
        self._tracked_pub = (self.create_publisher(String, TRACKED_TOPIC, OUTPUT_DEPTH)
                             if self.settings.publish_per_face else None)
        self._face_pubs: dict[str, Any] = {}
        self._diagnostics_pub = self.create_publisher(
            DiagnosticArray, "/diagnostics", OUTPUT_DEPTH)
        compressed = self.settings.use_compressed
        self._decode = decode_compressed_msg if compressed else decode_image_msg
        reliable = self.settings.image_reliability == "reliable"
        qos = QoSProfile(history=qos_profile_sensor_data.history,
                         depth=self.settings.qos_depth,
                         reliability=(ReliabilityPolicy.RELIABLE if reliable
                                      else qos_profile_sensor_data.reliability),
                         durability=qos_profile_sensor_data.durability)
        self._worker: FrameWorker[Any] = FrameWorker(self._process, self._on_error)
        self._worker.start()
        self._subscription = self.create_subscription(
            CompressedImage if compressed else Image,
            "image/compressed" if compressed else "image", self._on_image, qos)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f"model {self.pipeline.info.model_id} (window {self.pipeline.window_size}) on "
            f"{self.pipeline.engine.active_provider}; listening on "
            f"{self._subscription.topic_name} ({'compressed' if compressed else 'raw'}), "
            f"publishing {self._affect_pub.topic_name}")

    # --- start-up ---

    def _declare_parameters(self) -> dict[str, Any]:
        values = {}
        for param in PARAMETERS:
            try:
                values[param.name] = self.declare_parameter(
                    param.name, param.default, descriptor(param)).value
            except ParameterException as err:
                raise ParameterError(param.name, _rclpy_reason(err, param.name)) from None
        return values

    # --- frames ---

    def _on_image(self, msg: Image | CompressedImage) -> None:
        self._last_input = time.monotonic()
        self._worker.submit(msg)

    def _process(self, msg: Image | CompressedImage) -> None:
        """Worker thread: decode, run the pipeline, publish."""
        rgb = self._decode(msg)
        with self._lock:
            result = self.pipeline.process(rgb, stamp_to_seconds(msg.header.stamp))
            removed = list(self.pipeline.tracker.removed)
            self._latency = self.pipeline.counters.latency_percentiles()
        self._faces = (len(result.faces), int(result.warm.sum()))
        affect = frame_message(result, msg.header)
        self._affect_pub.publish(affect)
        if self._tracked_pub is not None:
            self._publish_per_face(affect, removed)
        if self._overlay_pub is not None:
            self._overlay_pub.publish(image_message(draw_overlay(rgb, result), msg.header))

    def _publish_per_face(self, affect: AffectStateArray, removed: list[str]) -> None:
        for state in affect.faces:
            token = face_token(state.track_id)
            if token not in self._face_pubs:
                self._face_pubs[token] = self.create_publisher(
                    AffectState, face_topic(state.track_id), OUTPUT_DEPTH)
            self._face_pubs[token].publish(state)
        for track_id in removed:
            publisher = self._face_pubs.pop(face_token(track_id), None)
            if publisher is not None:
                self.destroy_publisher(publisher)
        self._tracked_pub.publish(String(data=tracked_ids_text(
            [state.track_id for state in affect.faces])))

    def _on_error(self, msg: Image | CompressedImage, err: Exception) -> None:
        """Worker thread: count and log (throttled) a frame that failed; the worker goes on."""
        if not self.context.ok():
            return  # shutting down: publishers are gone
        stamp = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
        if isinstance(err, ImageDecodeError):
            self._decode_errors += 1
            self.get_logger().warning(
                f"skipping an image that cannot be decoded (stamp {stamp}): {err}",
                throttle_duration_sec=LOG_THROTTLE_S)
        else:
            self.get_logger().error(
                f"processing the image of stamp {stamp} failed: {type(err).__name__}: {err}",
                throttle_duration_sec=LOG_THROTTLE_S)

    # --- health ---

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        counts = self._worker.counts()
        totals = {"received": counts.received, "handled": counts.handled,
                  "dropped": counts.dropped, "decode_errors": self._decode_errors,
                  "failed": counts.failed}
        rates = {name: self._rates[name].update(total, now) for name, total in totals.items()}
        faces, warm = self._faces
        health = Health(
            received=counts.received, processed=counts.handled, dropped=counts.dropped,
            decode_errors=self._decode_errors,
            processing_errors=counts.failed - self._decode_errors,
            input_rate=rates["received"], output_rate=rates["handled"],
            drop_rate=rates["dropped"], decode_error_rate=rates["decode_errors"],
            error_rate=rates["failed"] - rates["decode_errors"],
            seconds_since_input=now - self._last_input,
            latency_p50_ms=self._latency[0], latency_p95_ms=self._latency[1],
            faces=faces, warm=warm, window_size=self.pipeline.window_size,
            provider=self.pipeline.engine.active_provider,
            model_id=self.pipeline.info.model_id, topic=self._subscription.topic_name)
        self._diagnostics_pub.publish(diagnostic_array(
            health, self.get_fully_qualified_name(), self.get_clock().now().to_msg()))

    # --- parameters at run time ---

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        """Validate and apply dynamic parameters (rclpy refuses the read-only ones itself)."""
        changes = {p.name: p.value for p in params if p.name in BY_NAME}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            settings = build_settings({**self.settings.values, **changes})
            with self._lock:
                self.pipeline.reconfigure(settings.pipeline)
                self.settings = settings
        except (ValueError, OSError) as err:  # ParameterError, or a detector that fails to load
            return SetParametersResult(successful=False, reason=str(err))
        self.get_logger().info("set " + ", ".join(f"{k}={v}" for k, v in changes.items()))
        return SetParametersResult(successful=True)

    def close(self) -> None:
        """Stop the worker and destroy the node."""
        if not self._worker.stop(STOP_TIMEOUT_S):
            self.get_logger().warning(f"the worker did not stop within {STOP_TIMEOUT_S} s")
        self.destroy_node()


def _load_pipeline(settings: Any) -> AffectPipeline:
    """The pipeline, with model and detector files that fail to load blamed on their
    parameter."""
    try:
        return AffectPipeline(settings.pipeline)
    except ModelLoadError as err:
        raise ParameterError("model_dir", str(err)) from None
    except FileNotFoundError as err:
        raise ParameterError("detector.model_path", str(err)) from None


def _rclpy_reason(err: ParameterException, name: str) -> str:
    """rclpy's rejection of a declared value (a type or a range), without its trailing name."""
    text = (str(err.args[0]) if err.args else str(err)).removesuffix(f": {name}")
    value = re.match(r"Invalid parameter value \((.*)\) for parameter", text)
    if value and BY_NAME[name].range is not None:
        return f"{value.group(1)} is outside {BY_NAME[name].range}"
    return text


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT or SIGTERM; exit 0 then, or non-zero on a bad parameter."""
    # ALL: rclpy turns SIGINT and SIGTERM into a shutdown, which ends spin below
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.ALL)
    node = None
    status = 0
    try:
        node = AffectPerceptionNode()
        rclpy.spin(node)
    except ParameterError as err:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {err}")
        status = EXIT_BAD_PARAMETER
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
