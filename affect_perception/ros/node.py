"""`affect_perception_node`: camera images in, per-face affect out (a thin, managed node).

A lifecycle node: ``configure`` reads the parameters and loads the models, ``activate``
subscribes to the camera, ``deactivate`` stops processing with the models kept, ``cleanup``
and ``shutdown`` release everything. With ``autostart`` (the default) it configures and
activates itself at start-up. The subscription callback only hands the newest image to a
:class:`FrameWorker`; the worker decodes it, runs :class:`AffectPipeline` and publishes.
Parameters come from one table (:mod:`.parameters`), messages from :mod:`.conversions`, health
from :mod:`.diagnostics`. Topics, parameters and states are documented in docs/NODE.md.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from affect_perception import provenance
from affect_perception.log_values import cut
from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.resources import DDS_PROFILE, ResourceNotFoundError, dds_profile
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
from affect_perception.ros.frame_loss import StampGapLoss
from affect_perception.ros.frame_worker import FrameWorker
from affect_perception.ros.image_qos import image_qos, publishers_reliable, wants_reliable
from affect_perception.ros.overrides import given_overrides, ignored_overrides
from affect_perception.ros.parameters import (
    BY_NAME,
    PARAMETERS,
    NodeSettings,
    ParameterError,
    build_settings,
    check_value,
    descriptor,
)
from affect_perception.ros.service_guard import guard_parameter_services
from affect_perception.ros.spinning import spin_until_shutdown
from affect_perception.runtime.detection.base import DetectorLoadError
from affect_perception.runtime.engine import ModelLoadError
from affect_perception.runtime.frame_clock import FrameClock
from affect_perception.runtime.image_decode import (
    ImageDecodeError,
    check_compressed_msg,
    check_image_msg,
    decode_compressed_msg,
    decode_image_msg,
)
from affect_perception.runtime.native_output import DECODERS
from affect_perception.runtime.pipeline import AffectPipeline
from affect_perception.visualize.overlay import draw_overlay

NODE_NAME = "affect_perception_node"
# Seconds between two log lines about bad frames (each kind is throttled on its own).
LOG_THROTTLE_S = 5.0
# Seconds between two log lines about frames lost before they reached the node.
LOSS_LOG_THROTTLE_S = 30.0
# Seconds between two /diagnostics messages.
DIAGNOSTICS_PERIOD_S = 1.0
# Longest wait for the worker to finish its frame at deactivation or cleanup, in seconds.
STOP_TIMEOUT_S = 5.0
# Depth of the reliable output queues.
OUTPUT_DEPTH = 10
# Exit status when start-up fails on a parameter or the model.
EXIT_BAD_PARAMETER = 2
# Seconds the process keeps spinning after the shutdown transition, so the reply to the
# change_state call that asked for it reaches the caller before the process ends.
FINALIZED_LINGER_S = 1.0
# The value of baseline.reset_track that resets every person's baseline.
ALL_TRACKS = "*"

# Exit status when start-up fails otherwise (one line, no traceback).
EXIT_START_FAILED = 1

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE


class StartError(RuntimeError):
    """The start-up configure failed for a reason other than a parameter."""


class AffectPerceptionNode(LifecycleNode):
    """Subscribes to ``image`` (or ``image/compressed``) while active, publishes ``~/affect``
    and more.

    The constructor only declares the parameters (a value ROS refuses, or a ``-p`` override
    in ``argv`` (default ``sys.argv``) that rcl ignored, is kept as the parameter's error and
    reported by ``configure``); nothing is loaded before ``configure``.

    Attributes:
        autostart: the ``autostart`` parameter: `start` is to be called at start-up.
        finalized: done once the node has gone through ``shutdown``.
        configure_error: why the last ``configure`` failed (None after a success).
    """

    def __init__(self, argv: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._declare_errors = self._declare_parameters()
        effective = {p.name: self.get_parameter(p.name).value for p in PARAMETERS
                     if p.name not in self._declare_errors}
        self._declare_errors.update(ignored_overrides(
            given_overrides(sys.argv if argv is None else argv), effective))
        self.autostart = bool(self.get_parameter("autostart").value)
        self.finalized = Future()
        self.configure_error: Exception | None = None
        self._starting = False  # start() reports a failed configure itself
        self._lock = threading.Lock()  # the pipeline and publishers against the other threads
        self._count_lock = threading.Lock()
        self._active = False
        self.settings: NodeSettings | None = None
        self.pipeline: AffectPipeline | None = None
        self._worker: FrameWorker[Any] | None = None
        self._subscription: Any = None
        self._reliable = False  # the image subscription's reliability
        self._outputs: dict[str, Any] = {}  # ~/affect, ~/overlay, tracked ids, diagnostics
        self._face_pubs: dict[str, Any] = {}
        self._timer: Any = None
        self._provenance = (provenance.UNKNOWN, "none")  # taught on, real-face evidence
        self._reset_stats()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        guard_parameter_services(self, self._on_refused_request)

    # --- start-up ---

    def _declare_parameters(self) -> dict[str, str]:
        """Declare every parameter; name -> rclpy's reason for each override it refused (that
        parameter is declared with its default instead, and ``configure`` fails on it)."""
        errors = {}
        for param in PARAMETERS:
            try:
                self.declare_parameter(param.name, param.default, descriptor(param))
            except ParameterException as err:
                errors[param.name] = _rclpy_reason(err, param.name)
                self.declare_parameter(param.name, param.default, descriptor(param),
                                       ignore_override=True)
        return errors

    def start(self) -> None:
        """Configure and activate (what ``autostart`` does at start-up).

        Raises:
            ParameterError: configuring failed on a parameter or the model (the node is left
                unconfigured).
            StartError: configuring failed otherwise (its exception, in one line).
        """
        self._starting = True
        try:
            configured = self.trigger_configure()
        finally:
            self._starting = False
        if configured != SUCCESS:
            err = self.configure_error
            if isinstance(err, ParameterError):
                raise err
            raise StartError(f"{type(err).__name__}: {err}" if err else "configure failed")
        self.trigger_activate()

    # --- lifecycle transitions ---

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read the parameters, load the models, create the publishers and the worker."""
        try:
            self._configure()
        except Exception as err:  # a failed configure leaves the node unconfigured, not dead
            self._release()
            self.configure_error = err
            if not self._starting:
                reason = str(err) if isinstance(err, ParameterError) else (
                    f"{type(err).__name__}: {err}")
                self.get_logger().error(f"cannot configure: {reason}")
            return FAILURE
        self.configure_error = None
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start processing: enable the publishers, then subscribe to the camera."""
        result = super().on_activate(state)
        if result != SUCCESS:
            return result
        with self._lock:
            self.pipeline.reset()  # a face seen before a deactivation starts a new track
            self._active = True
        self._subscribe(self._wanted_reliability())
        self.get_logger().info(
            f"active: listening on {self._subscription.topic_name} "
            f"({'compressed' if self.settings.use_compressed else 'raw'}, "
            f"{'reliable' if self._reliable else 'best effort'}), publishing "
            f"{self._outputs['affect'].topic_name}")
        return SUCCESS

    def _wanted_reliability(self) -> bool:
        """Subscribe reliably? (``image_reliability`` and the topic's publishers now)."""
        return wants_reliable(self.settings.image_reliability, publishers_reliable(
            self, self.resolve_topic_name(self._image_topic())))

    def _subscribe(self, reliable: bool) -> None:
        """(Re)create the image subscription with the given reliability."""
        self._unsubscribe()
        self._reliable = reliable
        self._subscription = self.create_subscription(
            CompressedImage if self.settings.use_compressed else Image, self._image_topic(),
            self._on_image, image_qos(self.settings.qos_depth, reliable))

    def _follow_publishers(self) -> None:
        """best_available: resubscribe when the publishers now call for the other reliability."""
        if not self._active or self.settings.image_reliability != "best_available":
            return
        reliable = self._wanted_reliability()
        if reliable != self._reliable:
            self._subscribe(reliable)
            self.get_logger().info(f"image publishers changed: now subscribed "
                                   f"{'reliably' if reliable else 'best effort'}")

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing; the models stay loaded."""
        self._unsubscribe()
        with self._lock:
            self._active = False
            self._worker.discard()
            self._destroy_face_publishers()
        self.get_logger().info("inactive: not processing images")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the models, publishers and worker: back to unconfigured."""
        self._release()
        self.get_logger().info("unconfigured: models released")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; the process ends soon after (see `main`)."""
        self._release()
        if not self.finalized.done():
            self.finalized.set_result(True)
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything and go back to unconfigured."""
        self._release()
        self.get_logger().error("a lifecycle transition failed; released everything, the node "
                                "is unconfigured")
        return SUCCESS

    def _configure(self) -> None:
        if self._declare_errors:
            name, reason = next(iter(self._declare_errors.items()))
            raise ParameterError(name, reason)
        settings = build_settings({p.name: self.get_parameter(p.name).value
                                   for p in PARAMETERS})
        pipeline = _load_pipeline(settings)
        try:
            self._provenance = provenance.describe(settings.pipeline.model_dir,
                                                   pipeline.info.tasks)
        except ValueError as err:
            raise ParameterError("model_dir", str(err)) from None
        self.settings, self.pipeline = settings, pipeline
        self._reset_stats()
        self._decode = decode_compressed_msg if settings.use_compressed else decode_image_msg
        self._check = check_compressed_msg if settings.use_compressed else check_image_msg
        outputs = {"affect": (AffectStateArray, "~/affect", True),
                   "overlay": (Image, "~/overlay", settings.publish_overlay),
                   "tracked": (String, TRACKED_TOPIC, settings.publish_per_face)}
        for key, (kind, topic, wanted) in outputs.items():
            if wanted:
                self._outputs[key] = self.create_lifecycle_publisher(kind, topic,
                                                                        OUTPUT_DEPTH)
        self._outputs["diagnostics"] = self.create_publisher(
            DiagnosticArray, "/diagnostics", OUTPUT_DEPTH)
        self._timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self._worker = FrameWorker(self._process, self._on_error)
        self._worker.start()
        self.get_logger().info(
            f"configured: model {pipeline.info.model_id} (window {pipeline.window_size}) on "
            f"{pipeline.engine.active_provider}")
        self.get_logger().info(f"outputs taught on {self._provenance[0]}; real-face evidence: "
                               f"{self._provenance[1]}")

    def _reset_stats(self) -> None:
        """Counters and figures of the diagnostics, from zero (each configure starts anew)."""
        self._decode_errors = 0
        self._last_input = float("-inf")
        self._loss = StampGapLoss()
        self._frame_clock = FrameClock()
        self._native_start = DECODERS.count
        self._latency = (float("nan"), float("nan"))
        self._faces = (0, 0, 0)  # faces, warm and reliable faces in the last frame
        self._rates = {name: CounterRate() for name in
                       ("received", "handled", "dropped", "decode_errors", "failed", "lost")}

    def _release(self) -> None:
        """Undo `_configure` (and `on_activate`), whatever part of it was done."""
        self._unsubscribe()
        if self._worker is not None and not self._worker.stop(STOP_TIMEOUT_S):
            self.get_logger().warning(f"the worker did not stop within {STOP_TIMEOUT_S} s")
        with self._lock:
            self._active = False
            self._destroy_face_publishers()
            for key, publisher in self._outputs.items():
                if key == "diagnostics":
                    self.destroy_publisher(publisher)
                else:
                    self.destroy_lifecycle_publisher(publisher)
            self._outputs = {}
            if self._timer is not None:
                self.destroy_timer(self._timer)
            self._worker = self._timer = None
            self.settings = self.pipeline = None

    def _unsubscribe(self) -> None:
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None

    def _image_topic(self) -> str:
        return "image/compressed" if self.settings.use_compressed else "image"

    # --- frames ---

    def _on_image(self, msg: Image | CompressedImage) -> None:
        self._last_input = time.monotonic()
        fallback = self._frame_clock.fallback
        frame_time = self._frame_clock.time(stamp_to_seconds(msg.header.stamp), time.time())
        if self._frame_clock.fallback and not fallback:
            self.get_logger().warning(
                f"the image stamps do not advance (stamp {msg.header.stamp.sec}."
                f"{msg.header.stamp.nanosec:09d}); timing smoothing and tracking by the arrival "
                "time instead from now on (set the stamps in the camera driver)")
        # arrival times say nothing of frames lost upstream: no estimate without source stamps
        try:
            self._check(msg)
        except ImageDecodeError as err:  # counted, and the good frame waiting keeps its place
            self._worker.refuse()
            self._decode_error(msg, err)
            return
        if not self._frame_clock.fallback and self._loss.add(frame_time):
            self.get_logger().warning(
                f"frames are lost before they reach the node: about {self._loss.lost} of "
                f"{self._loss.seen + self._loss.lost} so far (gaps in the image stamps). For "
                "large raw images, export FASTRTPS_DEFAULT_PROFILES_FILE="
                f"{_dds_profile_text()} for the camera driver and this node, or use a reliable "
                "publisher or compressed images (docs/NODE.md)",
                throttle_duration_sec=LOSS_LOG_THROTTLE_S)
        self._worker.submit((msg, frame_time))

    def _process(self, frame: tuple[Image | CompressedImage, float]) -> None:
        """Worker thread: decode, run the pipeline, publish (nothing once deactivated)."""
        msg, frame_time = frame
        rgb = self._decode(msg)
        with self._lock:
            if not self._active:
                return
            result = self.pipeline.process(rgb, frame_time)
            self._latency = self.pipeline.counters.latency_percentiles()
            self._faces = (len(result.faces), int(result.warm.sum()),
                           int(result.field("reliable").sum()))
            affect = frame_message(result, msg.header)
            self._outputs["affect"].publish(affect)
            if "tracked" in self._outputs:
                self._publish_per_face(affect, list(self.pipeline.tracker.removed))
            if "overlay" in self._outputs:
                self._outputs["overlay"].publish(
                    image_message(draw_overlay(rgb, result), msg.header))

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
        self._outputs["tracked"].publish(String(data=tracked_ids_text(
            [state.track_id for state in affect.faces])))

    def _destroy_face_publishers(self) -> None:
        for publisher in self._face_pubs.values():
            self.destroy_publisher(publisher)
        self._face_pubs = {}

    def _on_error(self, frame: tuple[Image | CompressedImage, float], err: Exception) -> None:
        """Worker thread: count and log (throttled) a frame that failed; the worker goes on."""
        msg = frame[0]
        if not self.context.ok():
            return  # shutting down: publishers are gone
        if isinstance(err, ImageDecodeError):
            self._decode_error(msg, err)
        else:
            self.get_logger().error(
                f"processing the image of stamp {_stamp_text(msg)} failed: "
                f"{type(err).__name__}: {err}", throttle_duration_sec=LOG_THROTTLE_S)

    def _decode_error(self, msg: Image | CompressedImage, err: ImageDecodeError) -> None:
        """Count and log (throttled) an image that cannot be decoded."""
        with self._count_lock:  # the subscription callback and the worker both count
            self._decode_errors += 1
        self.get_logger().warning(
            f"skipping an image that cannot be decoded (stamp {_stamp_text(msg)}): {err}",
            throttle_duration_sec=LOG_THROTTLE_S)

    # --- health ---

    def _publish_diagnostics(self) -> None:
        """Timer, while configured: one DiagnosticArray with the counters and the state."""
        if self._worker is None:
            return
        self._follow_publishers()
        now = time.monotonic()
        counts = self._worker.counts()
        totals = {"received": counts.received, "handled": counts.handled,
                  "dropped": counts.dropped, "decode_errors": self._decode_errors,
                  "failed": counts.failed, "lost": self._loss.lost}
        rates = {name: self._rates[name].update(total, now) for name, total in totals.items()}
        faces, warm, reliable = self._faces
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
            model_id=self.pipeline.info.model_id,
            topic=self.resolve_topic_name(self._image_topic()),
            state="active" if self._active else "inactive", reliable=reliable,
            lost=self._loss.lost, lost_rate=rates["lost"], clock=self._frame_clock.source,
            native_messages=DECODERS.count - self._native_start,
            taught_on=self._provenance[0], real_face_evidence=self._provenance[1])
        self._outputs["diagnostics"].publish(diagnostic_array(
            health, self.get_fully_qualified_name(), self.get_clock().now().to_msg()))

    # --- parameters at run time ---

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        """Unconfigured: check each value against its row (the rest is checked at configure).
        Configured: refuse static parameters, validate and apply the dynamic ones, and reset
        baselines for ``baseline.reset_track`` (rclpy refuses the read-only ones itself)."""
        changes = {p.name: p.value for p in params if p.name in BY_NAME}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            if self.pipeline is None:
                for name, value in changes.items():
                    check_value(name, value)
                for name in changes:
                    self._declare_errors.pop(name, None)
            else:
                self._apply(changes)
        except DetectorLoadError as err:  # the old detector is kept
            self.get_logger().error(f"parameter '{err.parameter}': {err}; keeping the detector "
                                    "in use")
            return SetParametersResult(successful=False, reason=f"parameter '{err.parameter}': "
                                                                f"{err}")
        except ValueError as err:  # ParameterError
            return SetParametersResult(successful=False, reason=str(err))
        self.get_logger().info("set " + ", ".join(f"{k}={cut(str(v))}"
                                                  for k, v in changes.items()))
        return SetParametersResult(successful=True)

    def _on_refused_request(self, line: str) -> None:
        """A malformed parameter request was refused (see :mod:`.service_guard`)."""
        self.get_logger().warning(f"refused a malformed parameter request: {line}",
                                  throttle_duration_sec=LOG_THROTTLE_S)

    def _apply(self, changes: dict[str, Any]) -> None:
        """Apply dynamic parameter changes to the configured pipeline.

        Raises:
            ParameterError: a static parameter, or an invalid value; nothing was changed.
            DetectorLoadError: a new detector could not load its model; nothing was changed.
        """
        static = [name for name in changes if not BY_NAME[name].dynamic]
        if static:
            raise ParameterError(static[0], "static, it changes only while the node is "
                                            "unconfigured (deactivate, cleanup, set it, "
                                            "configure, activate)")
        settings = build_settings({**self.settings.values, **changes})
        with self._lock:
            self.pipeline.reconfigure(settings.pipeline)
            self.settings = settings
            reset = changes.get("baseline.reset_track")
            if reset:
                self.pipeline.reset_baseline(None if reset == ALL_TRACKS else [reset])

    def close(self) -> None:
        """Release everything and destroy the node."""
        self._release()
        self.destroy_node()


def _stamp_text(msg: Image | CompressedImage) -> str:
    return f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"


def _dds_profile_text() -> str:
    """Where the shipped Fast DDS profile is, for a log line."""
    try:
        return str(dds_profile())
    except ResourceNotFoundError:
        return "<share>/affect_perception/" + "/".join(DDS_PROFILE)


def _load_pipeline(settings: NodeSettings) -> AffectPipeline:
    """The pipeline, with model and detector files that fail to load blamed on their
    parameter."""
    try:
        return AffectPipeline(settings.pipeline)
    except ModelLoadError as err:
        raise ParameterError("model_dir", str(err)) from None
    except DetectorLoadError as err:
        raise ParameterError(err.parameter, str(err)) from None


def _rclpy_reason(err: ParameterException, name: str) -> str:
    """rclpy's rejection of a declared value (a type or a range), without its trailing name."""
    text = (str(err.args[0]) if err.args else str(err)).removesuffix(f": {name}")
    value = re.match(r"Invalid parameter value \((.*)\) for parameter", text)
    if value and BY_NAME[name].range is not None:
        return f"{cut(value.group(1))} is outside {BY_NAME[name].range}"
    return cut(text)


def usage() -> str:
    """What ``--help`` prints: the command line and every parameter with its default."""
    rows = "\n".join(f"  {p.name} ({p.type_name}, default {json.dumps(p.default)})"
                     for p in PARAMETERS)
    return (
        f"usage: {NODE_NAME} [--help] [--ros-args [-p NAME:=VALUE] [--params-file FILE] "
        "[-r image:=TOPIC] ...]\n\n"
        "Camera images in (`image`, or `image/compressed` with use_compressed), the affect of "
        "every tracked face out\n(~/affect, affect_perception/AffectStateArray), /diagnostics "
        "once a second. A managed (lifecycle) node;\nwith autostart it configures and "
        "activates itself. Topics and parameters: docs/NODE.md.\n\n"
        f"  {NODE_NAME} --ros-args --params-file <share>/affect_perception/config/affect.yaml "
        "-r image:=/camera/image_raw\n\n"
        f"parameters:\n{rows}")


def _wants_help(argv: list[str]) -> bool:
    """``-h`` or ``--help`` among the arguments before ``--ros-args``."""
    own = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    return bool({"-h", "--help"} & set(own))


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT, SIGTERM or its shutdown transition; exit 0 then, or 2 when
    the start-up configure (autostart) fails on a parameter or the model. ``--help`` prints
    the usage and exits 0 without starting anything."""
    if _wants_help(sys.argv[1:] if args is None else args):
        print(usage())
        return 0
    # ALL: rclpy turns SIGINT and SIGTERM into a shutdown, which ends spinning below
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.ALL)
    node = None
    status = 0
    try:
        node = AffectPerceptionNode(args)
        if node.autostart:
            node.start()
        spin_until_shutdown(node, node.finalized)
        if node.finalized.done():
            spin_until_shutdown(node, timeout_sec=FINALIZED_LINGER_S)
    except ParameterError as err:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {err}")
        status = EXIT_BAD_PARAMETER
    except StartError as err:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {err}")
        status = EXIT_START_FAILED
    finally:
        if node is not None:
            node.close()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
