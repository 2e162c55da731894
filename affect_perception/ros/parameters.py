"""Every parameter of the node in one table, its validation, and the settings it builds.

:data:`PARAMETERS` is the single source: the node declares each row with a
``ParameterDescriptor`` (description, range, read-only unless dynamic), ``config/affect.yaml``
lists each row, docs/NODE.md documents each row, and :func:`build_settings` turns the values
into a :class:`NodeSettings` holding the :class:`PipelineConfig`. Names ``detector.<field>`` and
``tracker.<field>`` fill `DetectorConfig` and `TrackerConfig`; other names fill a field of
`PipelineConfig` or `NodeSettings` of the same name. Only this module's ``descriptor`` imports
ROS, so the table and the validation are testable without it.
"""

from __future__ import annotations

import array
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from affect_perception.bundled import bundled_model_dir
from affect_perception.labels import AU_NAMES
from affect_perception.runtime.detection.base import BACKENDS, DetectorConfig
from affect_perception.runtime.engine import DEFAULT_PROVIDERS
from affect_perception.runtime.pipeline import PipelineConfig
from affect_perception.runtime.tracker import TrackerConfig

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
        return (f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")


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
        dynamic: may change while the node runs; otherwise the descriptor is read-only.
        convert: ROS value -> config value (e.g. "" -> None).
    """

    name: str
    default: Any
    description: str
    range: Range | None = None
    choices: tuple[str, ...] = ()
    lengths: tuple[int, ...] = ()
    dynamic: bool = False
    convert: Callable[[Any], Any] | None = None

    def check(self, value: Any) -> Any:
        """The value converted for the config; raises ParameterError naming the rule broken."""
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if self.lengths and len(values) not in self.lengths:
            raise ParameterError(self.name, f"needs {' or '.join(map(str, self.lengths))} "
                                            f"values, got {len(values)}")
        for item in values:
            if self.range is not None and not isinstance(item, bool) and item not in self.range:
                raise ParameterError(self.name, f"{item} is outside {self.range}")
            if self.choices and item not in self.choices:
                raise ParameterError(self.name, f"{item!r} is not one of "
                                                f"{', '.join(self.choices)}")
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

PARAMETERS: tuple[Param, ...] = (
    # --- the node ---
    Param("model_dir", "", "folder with encoder.onnx, temporal.onnx and model.json made by "
          "`affect-perception export`; empty: the bundled demo model"),
    Param("use_compressed", False, "subscribe to image/compressed (sensor_msgs/CompressedImage, "
          "JPEG or PNG) instead of image (sensor_msgs/Image)"),
    Param("qos_depth", 1, "queue depth of the image subscription; the worker only ever takes "
          "the newest frame", range=Range(1, 100)),
    Param("image_reliability", "best_effort", "QoS reliability of the image subscription: "
          "best_effort (sensor data, matches every camera driver) or reliable (needs a reliable "
          "publisher; large raw images on the same machine arrive more completely)",
          choices=("best_effort", "reliable")),
    Param("publish_per_face", False, "also publish /humans/faces/<id>/affect per face and the "
          "ids on /humans/faces/tracked (ROS4HRI REP-155 layout)"),
    Param("publish_overlay", False, "publish ~/overlay (sensor_msgs/Image, rgb8): the frame with "
          "boxes, ids, valence/arousal, active AUs and hesitancy drawn"),
    # --- the pipeline ---
    Param("providers", list(DEFAULT_PROVIDERS), "onnxruntime execution providers for the "
          "affect model, in order of preference; missing ones are skipped with a warning",
          convert=tuple),
    Param("intra_op_threads", 1, "onnxruntime threads per affect-model session (0: "
          "onnxruntime's default, one per core, which spins and slows everything when the "
          "cores are shared with other nodes)", range=THREADS),
    Param("max_faces", 4, "most faces processed per frame (the largest)",
          range=Range(1, 64)),
    Param("detect_every", 1, "run the face detector every k frames; the tracker predicts the "
          "boxes in between (faster, slower to find new faces)", range=Range(1, 100)),
    Param("temporal_every", 1, "run the temporal model every k frames; faces reuse their last "
          "estimate in between (new faces are always computed)", range=Range(1, 100)),
    Param("max_gap", 5, "missed frames a face's window bridges by repeating its last features",
          range=Range(0, 1000)),
    Param("au_threshold", [0.5], "probability above which an action unit is active: one value "
          f"for all, or {len(AU_NAMES)} in the order {' '.join(AU_NAMES)}", range=PROBABILITY,
          lengths=(1, len(AU_NAMES)), dynamic=True, convert=_thresholds),
    Param("ah_threshold", 0.5, "probability above which a face counts as hesitant",
          range=PROBABILITY, dynamic=True),
    Param("ema_alpha", 0.0, "weight of the newest estimate in an exponential moving average "
          "per face (lower: smoother, more lag); 0: off", range=FRACTION, dynamic=True,
          convert=_optional_alpha),
    # --- the face detector ---
    Param("detector.backend", "blazeface", "face detector", choices=tuple(BACKENDS)),
    Param("detector.variant", "back", "BlazeFace model: back (256x256: far, small and turned "
          "faces) or front (128x128: near faces, about twice as fast)",
          choices=("back", "front")),
    Param("detector.model_path", "", "detector model file; empty: the cached BlazeFace file "
          "(required for yunet)", convert=_optional_path),
    Param("detector.score_threshold", 0.75, "lowest detector confidence kept (higher: fewer "
          "false faces, more missed hard faces)", range=PROBABILITY, dynamic=True),
    Param("detector.nms_iou", 0.3, "box overlap above which two detections are one face",
          range=Range(0.0, 1.0, low_open=True)),
    Param("detector.weighted_nms", True, "blend overlapping BlazeFace boxes by score (steadier "
          "boxes) instead of keeping the best"),
    Param("detector.min_face_size", 0.0, "smallest face kept, shorter box side in pixels",
          range=COUNT),
    Param("detector.downscale", 0.0, "detect on a smaller copy: a factor in (0, 1), or the "
          "longest side in pixels if > 1; 0 or 1: full size", range=COUNT),
    Param("detector.providers", ["CPUExecutionProvider"], "onnxruntime execution providers "
          "for the detector", convert=tuple),
    Param("detector.threads", 1, "onnxruntime threads for the detector (0: all cores)",
          range=THREADS),
    # --- the tracker ---
    Param("tracker.max_cost", 0.75, "match-cost gate (higher: fast faces keep their ids, "
          "nearby faces swap ids more easily)", range=Range(0.0, 1.0, low_open=True)),
    Param("tracker.iou_weight", 0.5, "share of box overlap in the match cost, the rest is "
          "centre distance", range=FRACTION),
    Param("tracker.n_init", 3, "detections before a new face is reported (higher: fewer "
          "false faces, later real ones)", range=POSITIVE_COUNT),
    Param("tracker.max_misses", 10, "detector misses a face survives, keeping its id and "
          "window", range=COUNT),
    Param("tracker.alpha", 0.85, "box correction gain (higher: follows detections closely, "
          "jitters with them)", range=Range(0.0, 1.0, low_open=True)),
    Param("tracker.beta", 0.5, "velocity correction gain; 0 switches motion prediction off",
          range=Range(0.0, 1.0, high_open=True)),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMETERS}


@dataclass
class NodeSettings:
    """Everything the node runs with.

    Attributes:
        pipeline: the pipeline configuration (model folder resolved).
        use_compressed, qos_depth, image_reliability, publish_per_face, publish_overlay: see
            :data:`PARAMETERS`.
    """

    pipeline: PipelineConfig
    use_compressed: bool = False
    qos_depth: int = 1
    image_reliability: str = "best_effort"
    publish_per_face: bool = False
    publish_overlay: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # the ROS values it was built from


def resolve_model_dir(value: str) -> Path:
    """The model folder a ``model_dir`` value names ("" is the bundled demo model)."""
    if not value:
        try:
            return bundled_model_dir()
        except FileNotFoundError as err:
            raise ParameterError("model_dir", f"empty, and {err}") from None
    folder = Path(value).expanduser()
    missing = [name for name in ("encoder.onnx", "temporal.onnx")
               if not (folder / name).is_file()]
    if missing:
        raise ParameterError("model_dir", f"{folder} lacks {', '.join(missing)}; pass a folder "
                                          "made by `affect-perception export`")
    return folder


def build_settings(values: dict[str, Any]) -> NodeSettings:
    """Validate parameter values (name -> ROS value; missing names take their defaults).

    Raises:
        ParameterError: naming the first parameter whose value is unusable.
    """
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ParameterError(unknown[0], f"unknown; known parameters: {', '.join(BY_NAME)}")
    merged = {p.name: _plain(values.get(p.name, p.default)) for p in PARAMETERS}
    checked = {name: BY_NAME[name].check(value) for name, value in merged.items()}
    groups: dict[str, dict[str, Any]] = {"detector": {}, "tracker": {}, "": {}}
    for name, value in checked.items():
        prefix, _, key = name.rpartition(".")
        groups[prefix][key] = value
    top = groups[""]
    node_fields = {f.name for f in dataclasses.fields(NodeSettings)} - {"pipeline", "values"}
    try:
        detector = DetectorConfig(**groups["detector"])
    except ValueError as err:
        raise ParameterError("detector.*", str(err)) from None
    try:
        tracker = TrackerConfig(**groups["tracker"])
    except ValueError as err:
        raise ParameterError("tracker.*", str(err)) from None
    pipeline_values = {k: v for k, v in top.items() if k not in node_fields | {"model_dir"}}
    try:
        pipeline = PipelineConfig(model_dir=resolve_model_dir(top["model_dir"]),
                                  detector=detector, tracker=tracker, **pipeline_values)
    except ValueError as err:
        if isinstance(err, ParameterError):
            raise
        raise ParameterError("pipeline", str(err)) from None
    return NodeSettings(pipeline=pipeline, values=merged,
                        **{k: v for k, v in top.items() if k in node_fields})


def _plain(value: Any) -> Any:
    """A ROS value with arrays (rclpy gives ``array.array``) as lists."""
    return list(value) if isinstance(value, (array.array, tuple)) else value


def descriptor(param: Param) -> Any:
    """The ``rcl_interfaces/ParameterDescriptor`` declaring ``param``."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    text = param.description
    if param.choices:
        text += f" (one of: {', '.join(param.choices)})"
    if param.range is not None and (param.range.low_open or param.range.high_open):
        text += f" (range {param.range})"
    desc = ParameterDescriptor(description=text, read_only=not param.dynamic)
    if param.range is not None:
        is_int = isinstance(param.default, int) and not isinstance(param.default, bool)
        if is_int:
            desc.integer_range = [IntegerRange(from_value=int(param.range.low),
                                               to_value=int(param.range.high), step=1)]
        elif isinstance(param.default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(param.range.low),
                                                            to_value=float(param.range.high))]
    if param.choices:
        desc.additional_constraints = f"one of: {', '.join(param.choices)}"
    return desc
