"""`AffectServer`: live operation of one `AffectPipeline`, without ROS.

What the node's callbacks call (as camera_calibration's node calls its calibrator): configure
from parameter values (model and detector files that fail to load blamed on their parameter),
activate and deactivate (the lock and the active gate around the pipeline call), each
arriving message (timed, checked, counted, handed to the latest-frame worker), each parameter
change (static ones refused while configured, dynamic ones validated and applied), and the
health snapshot for the diagnostics. The node supplies a logger and a ``publish`` callback,
called on the worker thread under the lock while active.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from affect_perception import provenance
from affect_perception.frame_result import FrameResult
from affect_perception.log_values import cut
from affect_perception.resources import DDS_PROFILE, ResourceNotFoundError, dds_profile
from affect_perception.runtime.detection.base import DetectorLoadError
from affect_perception.runtime.engine import ModelLoadError
from affect_perception.runtime.image_decode import (
    ImageDecodeError,
    check_compressed_msg,
    check_image_msg,
    decode_compressed_msg,
    decode_image_msg,
)
from affect_perception.runtime.pipeline import AffectPipeline
from affect_perception.serving.frame_worker import FrameWorker
from affect_perception.serving.health import Health
from affect_perception.serving.settings import (
    BY_NAME,
    NodeSettings,
    ParameterError,
    build_settings,
    check_value,
)
from affect_perception.serving.stats import FrameStats, Identity

# Seconds between two log lines about bad frames (each kind is throttled on its own).
LOG_THROTTLE_S = 5.0
# Seconds between two log lines about frames lost before they reached the node.
LOSS_LOG_THROTTLE_S = 30.0
# The value of baseline.reset_track that resets every person's baseline.
ALL_TRACKS = "*"

# A frame in the worker's slot: the image message and its time for the pipeline.
Frame = tuple[Any, float]
# Called under the lock while active: the result, the decoded RGB frame, the message.
Publish = Callable[[FrameResult, np.ndarray, Any], None]


class Log(Protocol):
    """The logger calls the server makes (an rclpy logger has them)."""

    def info(self, message: str, **kwargs: Any) -> Any: ...

    def warning(self, message: str, **kwargs: Any) -> Any: ...

    def error(self, message: str, **kwargs: Any) -> Any: ...


class AffectServer:
    """Settings, pipeline, worker and statistics of one configured run.

    Args:
        log: where log lines go (throttled with ``throttle_duration_sec``).
        publish: publishes one processed frame.
        alive: False once the process shuts down (errors are then not logged).

    Attributes:
        settings, pipeline: those of the configured run (None while unconfigured).
        refused: parameter name -> why its override was refused or ignored at declaration;
            ``configure`` fails on the first until the parameter is set again.
        provenance: (what the outputs were taught on, the real-face evidence).
    """

    def __init__(
        self, log: Log, publish: Publish, alive: Callable[[], bool] = lambda: True
    ) -> None:
        self._log, self._publish, self._alive = log, publish, alive
        self._lock = threading.Lock()  # the pipeline and publishers against the other threads
        self.active = False
        self.settings: NodeSettings | None = None
        self.pipeline: AffectPipeline | None = None
        self.worker: FrameWorker[Frame] | None = None
        self.stats = FrameStats()
        self.refused: dict[str, str] = {}
        self.provenance = (provenance.UNKNOWN, "none")

    @property
    def configured(self) -> bool:
        return self.pipeline is not None

    # --- lifecycle ---

    def configure(self, values: dict[str, Any]) -> NodeSettings:
        """Validate the parameter values, load the models, start the worker.

        Raises:
            ParameterError: a refused override, an invalid value, or a model or detector file
                that does not load (blamed on its parameter); nothing is left configured.
        """
        if self.refused:
            raise ParameterError(*next(iter(self.refused.items())))
        settings = build_settings(values)
        pipeline = _load_pipeline(settings)
        try:
            self.provenance = provenance.describe(settings.pipeline.model_dir, pipeline.info.tasks)
        except ValueError as err:
            raise ParameterError("model_dir", str(err)) from None
        self.settings, self.pipeline, self.stats = settings, pipeline, FrameStats()
        compressed = settings.use_compressed
        self._decode = decode_compressed_msg if compressed else decode_image_msg
        self._check = check_compressed_msg if compressed else check_image_msg
        self.worker = FrameWorker(self._process, self._on_error)
        self.worker.start()
        self._log.info(
            f"configured: model {pipeline.info.model_id} (window "
            f"{pipeline.window_size}) on {pipeline.engine.active_provider}"
        )
        self._log.info(
            f"outputs taught on {self.provenance[0]}; real-face evidence: {self.provenance[1]}"
        )
        return settings

    def activate(self) -> None:
        """Start processing; a face seen before a deactivation starts a new track."""
        with self._lock:
            self.pipeline.reset()
            self.active = True

    def deactivate(self) -> None:
        """Stop processing: no frame is published after this returns; the models stay."""
        with self._lock:
            self.active = False
            if self.worker is not None:
                self.worker.discard()

    def release(self, timeout: float) -> bool:
        """Stop the worker (within ``timeout`` s) and drop the models; False when the worker
        did not stop in time (it publishes nothing more either way)."""
        stopped = self.worker is None or self.worker.stop(timeout)
        with self._lock:
            self.active = False
            self.worker = self.settings = self.pipeline = None
        return stopped

    # --- frames ---

    def arrive(self, msg: Any) -> None:
        """Subscription callback: time, check and count an image message, then hand it to the
        worker (a waiting older frame is dropped)."""
        stamp = msg.header.stamp
        arrival = self.stats.arrive(
            stamp.sec + stamp.nanosec * 1e-9, time.monotonic(), time.time()
        )
        if arrival.clock_fell_back:
            self._log.warning(
                f"the image stamps do not advance (stamp {_stamp_text(msg)}); timing smoothing "
                "and tracking by the arrival time instead from now on (set the stamps in the "
                "camera driver)"
            )
        try:
            self._check(msg)
        except ImageDecodeError as err:  # counted, and the good frame waiting keeps its place
            self.worker.refuse()
            self._decode_error(msg, err)
            return
        if self.stats.count_loss(arrival.time):
            loss = self.stats.loss
            self._log.warning(
                f"frames are lost before they reach the node: about {loss.lost} of "
                f"{loss.seen + loss.lost} so far (gaps in the image stamps). For large raw "
                f"images, export FASTRTPS_DEFAULT_PROFILES_FILE={_dds_profile_text()} for the "
                "camera driver and this node, or use a reliable publisher or compressed images "
                "(docs/NODE.md)",
                throttle_duration_sec=LOSS_LOG_THROTTLE_S,
            )
        self.worker.submit((msg, arrival.time))

    def _process(self, frame: Frame) -> None:
        """Worker thread: decode, run the pipeline, publish (nothing once deactivated)."""
        msg, frame_time = frame
        rgb = self._decode(msg)
        with self._lock:
            if not self.active:
                return
            result = self.pipeline.process(rgb, frame_time)
            self.stats.record(result, self.pipeline.counters.latency_percentiles())
            self._publish(result, rgb, msg)

    def _on_error(self, frame: Frame, err: Exception) -> None:
        """Worker thread: count and log (throttled) a frame that failed; the worker goes on."""
        if not self._alive():
            return  # shutting down: publishers are gone
        msg = frame[0]
        if isinstance(err, ImageDecodeError):
            self._decode_error(msg, err)
        else:
            self._log.error(
                f"processing the image of stamp {_stamp_text(msg)} failed: "
                f"{type(err).__name__}: {err}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    def _decode_error(self, msg: Any, err: ImageDecodeError) -> None:
        self.stats.decode_error()
        self._log.warning(
            f"skipping an image that cannot be decoded (stamp {_stamp_text(msg)}): {err}",
            throttle_duration_sec=LOG_THROTTLE_S,
        )

    # --- health ---

    def health(self, topic: str) -> Health:
        """The snapshot for the diagnostics (configured only)."""
        info = self.pipeline.info
        identity = Identity(
            window_size=self.pipeline.window_size,
            provider=self.pipeline.engine.active_provider,
            model_id=info.model_id,
            topic=topic,
            taught_on=self.provenance[0],
            real_face_evidence=self.provenance[1],
        )
        return self.stats.health(self.worker.counts(), time.monotonic(), identity, self.active)

    # --- parameters at run time ---

    def set_parameters(self, changes: dict[str, Any]) -> str | None:
        """Unconfigured: check each value against its row (the rest is checked at configure)
        and forget its refused override. Configured: `apply`. Returns why the change was
        refused (nothing was changed then), or None when it was made."""
        if not changes:
            return None
        try:
            if not self.configured:
                for name, value in changes.items():
                    check_value(name, value)
                for name in changes:
                    self.refused.pop(name, None)
            else:
                self.apply(changes)
        except DetectorLoadError as err:  # the old detector is kept
            reason = f"parameter '{err.parameter}': {err}"
            self._log.error(f"{reason}; keeping the detector in use")
            return reason
        except ValueError as err:  # ParameterError
            return str(err)
        self._log.info("set " + ", ".join(f"{k}={cut(str(v))}" for k, v in changes.items()))
        return None

    def apply(self, changes: dict[str, Any]) -> None:
        """Apply dynamic parameter changes to the configured pipeline, and reset baselines
        for ``baseline.reset_track``.

        Raises:
            ParameterError: a static parameter, or an invalid value; nothing was changed.
            DetectorLoadError: a new detector could not load its model; nothing was changed.
        """
        static = [name for name in changes if not BY_NAME[name].dynamic]
        if static:
            raise ParameterError(
                static[0],
                "static, it changes only while the node is "
                "unconfigured (deactivate, cleanup, set it, "
                "configure, activate)",
            )
        settings = build_settings({**self.settings.values, **changes})
        with self._lock:
            self.pipeline.reconfigure(settings.pipeline)
            self.settings = settings
            reset = changes.get("baseline.reset_track")
            if reset:
                self.pipeline.reset_baseline(None if reset == ALL_TRACKS else [reset])


def _stamp_text(msg: Any) -> str:
    """The header stamp of an image message, exactly."""
    return f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"


def _load_pipeline(settings: NodeSettings) -> AffectPipeline:
    """The pipeline, with model and detector files that fail to load blamed on their
    parameter."""
    try:
        return AffectPipeline(settings.pipeline)
    except ModelLoadError as err:
        raise ParameterError("model_dir", str(err)) from None
    except DetectorLoadError as err:
        raise ParameterError(err.parameter, str(err)) from None


def _dds_profile_text() -> str:
    """Where the shipped Fast DDS profile is, for a log line."""
    try:
        return str(dds_profile())
    except ResourceNotFoundError:
        return "<share>/affect_perception/" + "/".join(DDS_PROFILE)
