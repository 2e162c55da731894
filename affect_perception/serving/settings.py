"""Every parameter of the node in one table, its validation, and the settings it builds.

:data:`PARAMETERS` is the single source: the node declares each row with a
``ParameterDescriptor`` (description, range), ``config/affect.yaml`` lists each row,
docs/NODE.md documents each row, and :func:`build_settings` turns the values into a
:class:`NodeSettings` holding the :class:`PipelineConfig`. Names ``<group>.<field>`` fill the
group's config (``detector``: `DetectorConfig`, ``tracker``: `TrackerConfig`, ``quality``:
`QualityConfig`, ``baseline``: `BaselineConfig`, ``smoothing.<va|au|emi>``: `OneEuroParams`);
other names fill a field of `PipelineConfig` or `NodeSettings` of the same name. Dynamic
parameters apply while the node runs; static ones only while it is unconfigured
(:class:`affect_perception.serving.server.AffectServer` enforces it); start-up ones are
read-only. ROS-free: :mod:`affect_perception.ros.descriptors` turns a row into a
``ParameterDescriptor``.
"""

from __future__ import annotations

import array
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from affect_perception.labels import AU_NAMES
from affect_perception.log_values import shown
from affect_perception.model_files import PRECISIONS, missing_model_files
from affect_perception.resources import bundled_model_dir
from affect_perception.runtime.baseline import BaselineConfig
from affect_perception.runtime.detection.base import BACKENDS, DetectorConfig
from affect_perception.runtime.engine import DEFAULT_PROVIDERS
from affect_perception.runtime.pipeline import PipelineConfig
from affect_perception.runtime.quality import QualityConfig
from affect_perception.runtime.smoothing import OneEuroConfig, OneEuroParams
from affect_perception.runtime.tracker import TrackerConfig
from affect_perception.serving.reliability import RELIABILITIES

# The node's name (parameter files may name their section after it).
NODE_NAME = "affect_perception_node"
# Largest value accepted for counts and sizes without a natural bound (pixels, frames).
LARGE = 10_000


class ParameterError(ValueError):
    """A parameter value the node cannot run with; ``name`` is the parameter at fault."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"parameter '{name}': {message}")
        self.name = name


@dataclass(frozen=True)
class Range:
    """A numeric interval; ROS descriptors can only say closed bounds, so open ends are
    checked here.

    Attributes:
        low, high: the bounds.
        low_open, high_open: the bound itself is excluded.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        return (
            f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
            f"{')' if self.high_open else ']'}"
        )


@dataclass(frozen=True)
class Param:
    """One row of the parameter table.

    Attributes:
        name: the ROS parameter name.
        default: default value; its Python type is the parameter's type.
        description: one line for ``ros2 param describe`` and the docs.
        range: allowed numbers (each element for arrays).
        choices: allowed strings.
        lengths: allowed array lengths (empty: any).
        dynamic: may change while the node runs; otherwise only while it is unconfigured.
        startup: read once at start-up: the descriptor is read-only.
        action: setting it does something (e.g. a reset) rather than configure anything.
        convert: ROS value -> config value (e.g. "" -> None).
    """

    name: str
    default: Any
    description: str
    range: Range | None = None
    choices: tuple[str, ...] = ()
    lengths: tuple[int, ...] = ()
    dynamic: bool = False
    startup: bool = False
    action: bool = False
    convert: Callable[[Any], Any] | None = None

    def check(self, value: Any) -> Any:
        """The value converted for the config; raises ParameterError naming the rule broken."""
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if self.lengths and len(values) not in self.lengths:
            raise ParameterError(
                self.name, f"needs {' or '.join(map(str, self.lengths))} values, got {len(values)}"
            )
        for item in values:
            if self.range is not None and not isinstance(item, bool) and item not in self.range:
                raise ParameterError(self.name, f"{shown(item)} is outside {self.range}")
            if self.choices and item not in self.choices:
                raise ParameterError(
                    self.name, f"{shown(item)} is not one of {', '.join(self.choices)}"
                )
        return self.convert(value) if self.convert else value

    @property
    def type_name(self) -> str:
        """The ROS type, as docs and YAML comments name it."""
        if isinstance(self.default, list):
            return f"{_scalar_type(self.default[0])}[]"
        return _scalar_type(self.default)


def _scalar_type(value: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "double"), (str, "string")):
        if isinstance(value, kind):
            return name
    raise TypeError(f"no ROS parameter type for {value!r}")


def _optional_path(value: str) -> str | None:
    return value or None


def _optional_alpha(value: float) -> float | None:
    return value or None  # 0 switches smoothing off


def _thresholds(value: list[float]) -> float | tuple[float, ...]:
    return value[0] if len(value) == 1 else tuple(value)


PROBABILITY = Range(0.0, 1.0, low_open=True, high_open=True)
FRACTION = Range(0.0, 1.0)
COUNT = Range(0, LARGE)
POSITIVE_COUNT = Range(1, LARGE)
THREADS = Range(0, 256)
HERTZ = Range(0.0, 100.0, low_open=True)
# One-Euro defaults per signal group (the node's; the library's PipelineConfig has it off).
ONE_EURO = OneEuroConfig()
SIGNAL_GROUPS = {"va": "valence and arousal", "au": "AU probabilities", "emi": "EMI intensities"}


def _one_euro_rows(group: str) -> tuple[Param, ...]:
    """The three One-Euro parameters of one signal group."""
    what, params = SIGNAL_GROUPS[group], getattr(ONE_EURO, group)
    return (
        Param(
            f"smoothing.{group}.min_cutoff",
            params.min_cutoff,
            f"One-Euro cutoff in Hz of "
            f"the {what} while they are still (lower: less jitter, more lag; a step is 90 % "
            "through within ln(10) / (2 pi min_cutoff) s plus a frame)",
            range=HERTZ,
            dynamic=True,
        ),
        Param(
            f"smoothing.{group}.beta",
            params.beta,
            "One-Euro cutoff increase in Hz per "
            f"unit/s of speed of the {what} (higher: less lag on fast changes)",
            range=Range(0.0, 1000.0),
            dynamic=True,
        ),
        Param(
            f"smoothing.{group}.d_cutoff",
            params.d_cutoff,
            f"One-Euro cutoff in Hz of the low-pass on the speed of the {what}",
            range=HERTZ,
            dynamic=True,
        ),
    )


# The library's defaults, which the rows take unless the node deliberately differs (a node
# shares its cores: one onnxruntime thread, and the detector every other frame, issue 17).
PIPELINE = {
    f.name: f.default
    for f in dataclasses.fields(PipelineConfig)
    if f.default is not dataclasses.MISSING
}
DETECTOR = DetectorConfig()
TRACKER = TrackerConfig()
QUALITY = QualityConfig()
BASELINE = BaselineConfig()

PARAMETERS: tuple[Param, ...] = (
    # --- the node ---
    Param(
        "autostart",
        True,
        "configure and activate at start-up (false: stay unconfigured "
        "and wait for lifecycle transitions, e.g. ros2 lifecycle set <node> configure)",
        startup=True,
    ),
    Param(
        "model_dir",
        "",
        "folder with encoder.onnx, temporal.onnx and model.json made by "
        "`affect-perception export`; empty: the bundled demo model",
    ),
    Param(
        "use_compressed",
        False,
        "subscribe to image/compressed (sensor_msgs/CompressedImage, "
        "JPEG or PNG) instead of image (sensor_msgs/Image)",
    ),
    Param(
        "qos_depth",
        1,
        "queue depth of the image subscription; the worker only ever takes the newest frame",
        range=Range(1, 100),
    ),
    Param(
        "image_reliability",
        "best_available",
        "QoS reliability of the image subscription: "
        "best_available (reliable when every publisher of the topic is, best effort "
        "otherwise; re-decided when the publishers change), best_effort (sensor data, "
        "matches every camera driver) or reliable (needs a reliable publisher; large raw "
        "images between processes arrive completely)",
        choices=RELIABILITIES,
    ),
    Param(
        "publish_per_face",
        False,
        "also publish /humans/faces/<id>/affect per face and the "
        "ids on /humans/faces/tracked (ROS4HRI REP-155 layout)",
    ),
    Param(
        "publish_overlay",
        False,
        "publish ~/overlay (sensor_msgs/Image, rgb8): the frame with "
        "boxes, ids, valence/arousal, active AUs and hesitancy drawn",
    ),
    # --- the pipeline ---
    Param(
        "providers",
        list(DEFAULT_PROVIDERS),
        "onnxruntime execution providers for the "
        "affect model, in order of preference; missing ones are skipped with a warning",
        convert=tuple,
    ),
    Param(
        "precision",
        PIPELINE["precision"],
        "which model files run: fp32 (encoder.onnx, temporal.onnx), "
        "fp16 (the _fp16 pair from `export --fp16`) or int8 (encoder_int8.onnx from "
        "`quantize`, with the fp32 temporal model)",
        choices=PRECISIONS,
    ),
    Param(
        "intra_op_threads",
        1,
        "onnxruntime threads per affect-model session (0: one "
        "per core); idle pool threads sleep rather than spin, so the cores stay usable by "
        "the node's other threads and other processes",
        range=THREADS,
    ),
    Param(
        "max_faces",
        PIPELINE["max_faces"],
        "most faces processed per frame (the largest)",
        range=Range(1, 64),
    ),
    Param(
        "detect_every",
        2,
        "run the face detector every k frames; the tracker predicts the "
        "boxes in between (faster, slower to find new faces)",
        range=Range(1, 100),
    ),
    Param(
        "temporal_every",
        PIPELINE["temporal_every"],
        "run the temporal model every k frames; faces reuse their last "
        "estimate in between (new faces are always computed)",
        range=Range(1, 100),
    ),
    Param(
        "max_gap",
        PIPELINE["max_gap"],
        "missed frames a face's window bridges by repeating its last features",
        range=Range(0, 1000),
    ),
    Param(
        "au_threshold",
        [PIPELINE["au_threshold"]],
        "probability above which an action unit is active: one value "
        f"for all, or {len(AU_NAMES)} in the order {' '.join(AU_NAMES)}",
        range=PROBABILITY,
        lengths=(1, len(AU_NAMES)),
        dynamic=True,
        convert=_thresholds,
    ),
    Param(
        "ah_threshold",
        PIPELINE["ah_threshold"],
        "probability above which a face counts as hesitant",
        range=PROBABILITY,
        dynamic=True,
    ),
    Param(
        "ema_alpha",
        0.0,
        "weight of the newest estimate in an exponential moving average "
        "per face, per frame (lower: smoother, more lag); 0: off; not with smoothing.enabled",
        range=FRACTION,
        dynamic=True,
        convert=_optional_alpha,
    ),
    # --- time-aware smoothing ---
    Param(
        "smoothing.enabled",
        False,
        "One-Euro smoothing of valence/arousal, AU probabilities "
        "and EMI per face, timed by the image stamps (the same at any frame rate); "
        "config/affect.yaml turns it on, evaluation leaves it off",
        dynamic=True,
    ),
    *_one_euro_rows("va"),
    *_one_euro_rows("au"),
    *_one_euro_rows("emi"),
    # --- quality: the per-face reliable decision ---
    Param(
        "quality.min_face_size",
        QUALITY.min_face_size,
        "reliable needs the face box's shorter side to be at least this many pixels",
        range=COUNT,
        dynamic=True,
    ),
    Param(
        "quality.min_frontalness",
        QUALITY.min_frontalness,
        "reliable needs a frontalness "
        "(0 profile .. 1 frontal, from the keypoints) at least this (0.5: about 30 degrees "
        "of yaw); faces without keypoints are not held to it",
        range=FRACTION,
        dynamic=True,
    ),
    Param(
        "quality.min_sharpness",
        QUALITY.min_sharpness,
        "reliable needs the variance of the "
        "Laplacian of the aligned face crop to be at least this (blurred or tiny faces score "
        "below 10)",
        range=Range(0.0, LARGE),
        dynamic=True,
    ),
    Param(
        "quality.min_real_frames",
        QUALITY.min_real_frames,
        "reliable needs at least this "
        "many frames of the temporal window to be seen rather than carried over a miss "
        "(capped at the window size)",
        range=COUNT,
        dynamic=True,
    ),
    # --- per-person neutral baseline ---
    Param(
        "baseline.enabled",
        BASELINE.enabled,
        "keep a neutral baseline per person and publish "
        "valence, arousal and AU probabilities relative to it (the *_corrected fields; off: "
        "equal to the raw ones)",
        dynamic=True,
    ),
    Param(
        "baseline.min_frames",
        BASELINE.min_frames,
        "neutral frames a baseline needs before it is subtracted",
        range=POSITIVE_COUNT,
        dynamic=True,
    ),
    Param(
        "baseline.max_frames",
        BASELINE.max_frames,
        "neutral frames averaged; later ones "
        "update the baseline as an exponential average of this horizon",
        range=POSITIVE_COUNT,
        dynamic=True,
    ),
    Param(
        "baseline.max_arousal",
        BASELINE.max_arousal,
        "neutral frames have an arousal at or "
        "below this (besides a reliable estimate, no active AU and a still head)",
        range=Range(-1.0, 1.0),
        dynamic=True,
    ),
    Param(
        "baseline.max_pose_speed",
        BASELINE.max_pose_speed,
        "neutral frames have a head "
        "moving at most this many eye distances per second (nose position)",
        range=Range(0.0, 1000.0),
        dynamic=True,
    ),
    Param(
        "baseline.reset_track",
        "",
        "set to a track id to start that person's baseline "
        "again, or to * for everyone; applied on every set, even of the same value",
        dynamic=True,
        action=True,
    ),
    # --- the face detector ---
    Param("detector.backend", DETECTOR.backend, "face detector", choices=tuple(BACKENDS)),
    Param(
        "detector.variant",
        DETECTOR.variant,
        "BlazeFace model: back (256x256: far, small and turned "
        "faces) or front (128x128: near faces, about twice as fast)",
        choices=("back", "front"),
    ),
    Param(
        "detector.model_path",
        "",
        "detector model file; empty: the cached BlazeFace file (required for yunet)",
        convert=_optional_path,
    ),
    Param(
        "detector.score_threshold",
        DETECTOR.score_threshold,
        "lowest detector confidence kept (higher: fewer false faces, more missed hard faces)",
        range=PROBABILITY,
        dynamic=True,
    ),
    Param(
        "detector.nms_iou",
        DETECTOR.nms_iou,
        "box overlap above which two detections are one face",
        range=Range(0.0, 1.0, low_open=True),
    ),
    Param(
        "detector.weighted_nms",
        DETECTOR.weighted_nms,
        "blend overlapping BlazeFace boxes by score (steadier boxes) instead of keeping the best",
    ),
    Param(
        "detector.min_face_size",
        DETECTOR.min_face_size,
        "smallest face kept, shorter box side in pixels",
        range=COUNT,
    ),
    Param(
        "detector.downscale",
        DETECTOR.downscale,
        "detect on a smaller copy: a factor in (0, 1), or the "
        "longest side in pixels if > 1; 0 or 1: full size",
        range=COUNT,
    ),
    Param(
        "detector.providers",
        list(DETECTOR.providers),
        "onnxruntime execution providers for the detector",
        convert=tuple,
    ),
    Param(
        "detector.threads",
        DETECTOR.threads,
        "onnxruntime threads for the detector (0: all cores)",
        range=THREADS,
    ),
    # --- the tracker ---
    Param(
        "tracker.max_cost",
        TRACKER.max_cost,
        "match-cost gate (higher: fast faces keep their ids, nearby faces swap ids more easily)",
        range=Range(0.0, 1.0, low_open=True),
    ),
    Param(
        "tracker.iou_weight",
        TRACKER.iou_weight,
        "share of box overlap in the match cost, the rest is centre distance",
        range=FRACTION,
    ),
    Param(
        "tracker.n_init",
        TRACKER.n_init,
        "detections before a new face is reported (higher: fewer false faces, later real ones)",
        range=POSITIVE_COUNT,
    ),
    Param(
        "tracker.max_misses",
        TRACKER.max_misses,
        "detector misses a face survives, keeping its id and window",
        range=COUNT,
    ),
    Param(
        "tracker.alpha",
        TRACKER.alpha,
        "box correction gain (higher: follows detections closely, jitters with them)",
        range=Range(0.0, 1.0, low_open=True),
    ),
    Param(
        "tracker.beta",
        TRACKER.beta,
        "velocity correction gain; 0 switches motion prediction off",
        range=Range(0.0, 1.0, high_open=True),
    ),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMETERS}


# Values config/affect.yaml sets apart from the defaults: a robot wants smoothed outputs, an
# evaluation (which starts the node without the file) the model's own.
CONFIG_FILE_VALUES: dict[str, Any] = {"smoothing.enabled": True}


@dataclass
class NodeSettings:
    """Everything the node runs with.

    Attributes:
        pipeline: the pipeline configuration (model folder resolved).
        autostart, use_compressed, qos_depth, image_reliability, publish_per_face,
            publish_overlay: see :data:`PARAMETERS`.
    """

    pipeline: PipelineConfig
    autostart: bool
    use_compressed: bool
    qos_depth: int
    image_reliability: str
    publish_per_face: bool
    publish_overlay: bool
    values: dict[str, Any] = field(default_factory=dict)  # the ROS values it was built from


def resolve_model_dir(value: str) -> Path:
    """The model folder a ``model_dir`` value names ("" is the bundled demo model)."""
    if not value:
        try:
            return bundled_model_dir()
        except FileNotFoundError as err:
            raise ParameterError("model_dir", f"empty, and {err}") from None
    folder = Path(value).expanduser()
    missing = missing_model_files(folder)
    if missing:
        raise ParameterError(
            "model_dir",
            f"{folder} lacks {', '.join(missing)}; pass a folder "
            "made by `affect-perception export`",
        )
    return folder


def default(name: str) -> Any:
    """The node's default value of parameter ``name``."""
    return BY_NAME[name].default


def node_pipeline_config(model_dir: Path | str, /, **values: Any) -> PipelineConfig:
    """The pipeline the node runs at its defaults, with ``values`` (parameter name -> ROS
    value, e.g. a parameter file's) changed and the model in ``model_dir`` (whatever
    ``values`` says): what ``bench`` and ``eval`` run, so all three share one set of
    settings."""
    return build_settings({**values, "model_dir": str(model_dir)}).pipeline


def build_settings(values: dict[str, Any]) -> NodeSettings:
    """Validate parameter values (name -> ROS value; missing names take their defaults).

    Raises:
        ParameterError: naming the first parameter whose value is unusable.
    """
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ParameterError(unknown[0], f"unknown; known parameters: {', '.join(BY_NAME)}")
    merged = {p.name: _plain(values.get(p.name, p.default)) for p in PARAMETERS}
    checked = {
        name: BY_NAME[name].check(value)
        for name, value in merged.items()
        if not BY_NAME[name].action
    }
    groups: dict[str, dict[str, Any]] = {}
    for name, value in checked.items():
        prefix, _, key = name.rpartition(".")
        groups.setdefault(prefix, {})[key] = value
    top = groups[""]
    node_fields = {f.name for f in dataclasses.fields(NodeSettings)} - {"pipeline", "values"}
    smoothing = groups["smoothing"]["enabled"]
    if smoothing and top["ema_alpha"] is not None:
        raise ParameterError(
            "ema_alpha",
            f"{top['ema_alpha']} while smoothing.enabled is "
            "true; choose one smoothing (ema_alpha 0.0 is off)",
        )
    one_euro = (
        OneEuroConfig(
            **{
                group: _group_config(OneEuroParams, f"smoothing.{group}", groups)
                for group in SIGNAL_GROUPS
            }
        )
        if smoothing
        else None
    )
    configs = {
        name: _group_config(kind, name, groups)
        for name, kind in (
            ("detector", DetectorConfig),
            ("tracker", TrackerConfig),
            ("quality", QualityConfig),
            ("baseline", BaselineConfig),
        )
    }
    pipeline_values = {k: v for k, v in top.items() if k not in node_fields | {"model_dir"}}
    try:
        pipeline = PipelineConfig(
            model_dir=resolve_model_dir(top["model_dir"]),
            one_euro=one_euro,
            **configs,
            **pipeline_values,
        )
    except ValueError as err:
        if isinstance(err, ParameterError):
            raise
        raise ParameterError("pipeline", str(err)) from None
    return NodeSettings(
        pipeline=pipeline, values=merged, **{k: v for k, v in top.items() if k in node_fields}
    )


def _group_config(kind: type, prefix: str, groups: dict[str, dict[str, Any]]) -> Any:
    """The config dataclass of one parameter group; its own checks blamed on the group."""
    try:
        return kind(**groups[prefix])
    except ValueError as err:
        raise ParameterError(f"{prefix}.*", str(err)) from None


def check_value(name: str, value: Any) -> Any:
    """One parameter's ROS value checked against its row alone (range, choices, length); the
    full check, with the model files, is :func:`build_settings`'s."""
    return BY_NAME[name].check(_plain(value))


def _plain(value: Any) -> Any:
    """A ROS value with arrays (rclpy gives ``array.array``) as lists."""
    return list(value) if isinstance(value, (array.array, tuple)) else value
