"""onnxruntime engine for the exported model: the per-frame encoder and the temporal part.

Providers default to TensorRT → CUDA → CPU, keeping whichever this onnxruntime build has; a
requested provider that is missing is a logged warning, never a failure. The model's
preprocessing contract (input size, mean, std) and label orders are read from the ONNX
metadata and checked against the configuration at load. By default the temporal model's
patch embedding is folded into the encoder at load (:mod:`.fold`), so the window cache holds
embedded tokens rather than feature maps; `AffectEngine.windows` makes the cache that fits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from affect_perception.labels import AU_NAMES, EMI_NAMES, TASKS
from affect_perception.model_files import (
    METADATA_KEYS,
    PRECISION_FILES,
    PRECISION_HINT,
    PRECISIONS,
    read_metadata,
)
from affect_perception.runtime.alignment import normalize
from affect_perception.runtime.fold import FoldError, embed_name, fold
from affect_perception.runtime.ort_options import session_options
from affect_perception.runtime.windows import FeatureWindows

LOG = logging.getLogger(__name__)

DEFAULT_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class ModelLoadError(ValueError):
    """A model file is missing, unreadable, or does not match the configuration."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory says about itself in its ONNX metadata."""

    model_id: str
    variant: str
    window: int
    time_patch: int
    tasks: tuple[str, ...]
    feature_names: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_metadata(cls, props: dict[str, str], source: Path) -> "ModelInfo":
        """Parse and validate metadata_props read from ``source``."""
        missing = [key for key in METADATA_KEYS if key not in props]
        if missing:
            raise ModelLoadError(
                f"{source}: ONNX metadata lacks {missing}; re-export the model "
                "with `affect-perception export`"
            )
        try:
            info = cls(
                model_id=props["model_id"],
                variant=props["variant"],
                window=int(props["window"]),
                time_patch=int(props["time_patch"]),
                tasks=tuple(json.loads(props["tasks"])),
                feature_names=tuple(json.loads(props["feature_names"])),
                input_size=int(props["input_size"]),
                mean=tuple(float(v) for v in json.loads(props["mean"])),
                std=tuple(float(v) for v in json.loads(props["std"])),
            )
            au_names, emi_names = json.loads(props["au_names"]), json.loads(props["emi_names"])
        except (ValueError, TypeError) as err:
            raise ModelLoadError(f"{source}: unreadable ONNX metadata: {err}") from err
        if tuple(au_names) != AU_NAMES or tuple(emi_names) != EMI_NAMES:
            raise ModelLoadError(
                f"{source}: AU/EMI order {au_names} / {emi_names} differs from "
                f"this package's {AU_NAMES} / {EMI_NAMES}"
            )
        unknown = set(info.tasks) - set(TASKS)
        if unknown or not info.tasks:
            raise ModelLoadError(
                f"{source}: tasks {info.tasks} must be a non-empty subset of {TASKS}"
            )
        if len(info.mean) != 3 or len(info.std) != 3 or min(info.std) <= 0:
            raise ModelLoadError(f"{source}: mean/std must be 3 values each, std > 0")
        return info


@dataclass
class EngineConfig:
    """How to load and run a model directory.

    Attributes:
        model_dir: folder with encoder.onnx, temporal.onnx and model.json.
        providers: execution providers in order of preference; missing ones are skipped.
        intra_op_threads: onnxruntime intra-op threads per session (0: onnxruntime's default).
        trt_max_batch: TensorRT builds one engine per graph for 1 to this many faces (FP16
            engines allowed, cached in ``trt_cache`` next to the model).
        warmup: run each session once at load so the first frame is not slow.
        fold: fold the temporal patch embedding into the encoder (each frame embedded once);
            False runs the files as they are.
        precision: which files to run, ``fp32``, ``fp16`` or ``int8`` (PRECISION_FILES).
    """

    model_dir: Path
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    intra_op_threads: int = 0
    trt_max_batch: int = 16
    warmup: bool = True
    fold: bool = True
    precision: str = "fp32"


def resolve_providers(requested: tuple[str, ...], available: list[str]) -> list[str]:
    """Keep the requested providers this build has, in order.

    A missing provider is a warning when the caller named it, and only an info line when it
    comes from the default list (a CPU-only machine is not misconfigured).
    """
    kept = [p for p in requested if p in available]
    level = logging.INFO if tuple(requested) == DEFAULT_PROVIDERS else logging.WARNING
    for provider in requested:
        if provider not in available:
            LOG.log(
                level,
                "execution provider %s is not available in this onnxruntime build "
                "(available: %s); skipping it",
                provider,
                ", ".join(available),
            )
    if not kept:
        LOG.warning("none of the requested providers %s is available; using CPU", requested)
        kept = ["CPUExecutionProvider"]
    return kept


class AffectEngine:
    """Runs ``encoder.onnx`` per face crop and ``temporal.onnx`` per feature window."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        model_dir = Path(config.model_dir)
        if not model_dir.is_dir():
            raise ModelLoadError(f"model directory {model_dir} does not exist")
        if config.precision not in PRECISION_FILES:
            raise ModelLoadError(
                f"precision must be one of {PRECISIONS}, got {config.precision!r}"
            )
        encoder_path, temporal_path = (model_dir / f for f in PRECISION_FILES[config.precision])
        encoder, temporal = (
            _load(path, config.precision) for path in (encoder_path, temporal_path)
        )
        self.info = self._check_metadata(encoder_path, temporal_path, encoder, temporal)
        self.folded = False
        if config.fold:
            try:
                encoder, temporal = fold(
                    encoder,
                    temporal,
                    self.info.feature_names,
                    self.info.window,
                    int8=config.precision == "int8",
                )
                self.folded = True
            except FoldError as err:
                LOG.warning("%s: running without the folded patch embedding: %s", model_dir, err)
        # the names of the per-frame entries the window cache holds, in temporal input order
        self.cache_names = tuple(
            embed_name(n) if self.folded else n for n in self.info.feature_names
        )
        providers = resolve_providers(tuple(config.providers), ort.get_available_providers())
        self.encoder = self._session(encoder, encoder_path, providers)
        self.temporal_session = self._session(temporal, temporal_path, providers)
        self.active_provider = self.encoder.get_providers()[0]
        LOG.info(
            "model %s (%s, window %d, %s) on %s%s",
            self.info.model_id,
            self.info.variant,
            self.info.window,
            config.precision,
            self.active_provider,
            ", patch embedding folded into the encoder" if self.folded else "",
        )
        self._mean = np.asarray(self.info.mean, np.float32)
        self._std = np.asarray(self.info.std, np.float32)
        self.output_shapes = {
            o.name: tuple(o.shape[1:]) for o in self.temporal_session.get_outputs()
        }
        self.outputs = tuple(self.output_shapes)
        # shape of one frame's cache entry per name in cache_names
        self.feature_shapes = {o.name: tuple(o.shape[1:]) for o in self.encoder.get_outputs()}
        # frames per cached token: the folded cache sums each token's frames as they come
        self.time_patch = self.info.time_patch if self.folded else 1
        if config.warmup:
            self.warm_up()

    def _session(
        self, model: onnx.ModelProto, path: Path, providers: list[str]
    ) -> ort.InferenceSession:
        options = session_options(self.config.intra_op_threads)
        provider_options = [self._provider_options(p, path, model) for p in providers]
        try:
            return ort.InferenceSession(
                model.SerializeToString(),
                options,
                providers=providers,
                provider_options=provider_options,
            )
        except Exception as err:  # onnxruntime raises several unrelated types for bad files
            raise ModelLoadError(f"model file {path} cannot be loaded: {err}") from err

    def _provider_options(
        self, provider: str, path: Path, model: onnx.ModelProto
    ) -> dict[str, str]:
        if provider != "TensorrtExecutionProvider":
            return {}
        cache = path.parent / "trt_cache"
        options = {
            "trt_fp16_enable": "True",
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(cache),
        }
        # one engine for every face count up to trt_max_batch, not one per count seen
        for key, batch in (("min", 1), ("opt", 1), ("max", self.config.trt_max_batch)):
            options[f"trt_profile_{key}_shapes"] = ",".join(
                f"{i.name}:{_shape_text(i, batch)}" for i in model.graph.input
            )
        return options

    def _check_metadata(
        self,
        encoder_path: Path,
        temporal_path: Path,
        encoder: onnx.ModelProto,
        temporal: onnx.ModelProto,
    ) -> ModelInfo:
        model_dir = encoder_path.parent
        info = ModelInfo.from_metadata(read_metadata(encoder), encoder_path)
        if ModelInfo.from_metadata(read_metadata(temporal), temporal_path) != info:
            raise ModelLoadError(
                f"{model_dir}: {encoder_path.name} and {temporal_path.name} "
                "come from different models (their metadata differ)"
            )
        encoder_outputs = tuple(o.name for o in encoder.graph.output)
        initializers = {i.name for i in temporal.graph.initializer}
        temporal_inputs = tuple(i.name for i in temporal.graph.input if i.name not in initializers)
        if encoder_outputs != info.feature_names or temporal_inputs != info.feature_names:
            raise ModelLoadError(
                f"{model_dir}: encoder outputs {encoder_outputs} and temporal "
                f"inputs {temporal_inputs} must both be {info.feature_names}"
            )
        return info

    def windows(self, max_tracks: int, max_gap: int) -> FeatureWindows:
        """A window cache for this engine's `encode` entries, whose `gather` feeds `temporal`."""
        return FeatureWindows(
            self.info.window,
            self.feature_shapes,
            max_tracks=max_tracks,
            max_gap=max_gap,
            time_patch=self.time_patch,
        )

    def warm_up(self) -> None:
        """Run both sessions once on zeros."""
        size = self.info.input_size
        cache = self.windows(max_tracks=1, max_gap=0)
        cache.push(["warm-up"], self.encode(np.zeros((1, size, size, 3), np.uint8)))
        self.temporal(cache.gather(["warm-up"]))

    def encode(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Encode (n, S, S, 3) uint8 RGB crops into their window cache entries.

        Returns:
            {name: (n, *feature_shapes[name])} for each name in ``cache_names``: the feature
            maps, or with the fold each map's partial patch embeddings.
        """
        if len(crops) == 0:
            return {
                name: np.zeros((0, *shape), np.float32)
                for name, shape in self.feature_shapes.items()
            }
        images = normalize(crops, self._mean, self._std)
        values = self.encoder.run(None, {"image": images})
        return dict(zip(self.cache_names, values, strict=True))

    def empty_outputs(self) -> dict[str, np.ndarray]:
        """Task outputs for zero faces."""
        return {
            name: np.zeros((0, *shape), np.float32) for name, shape in self.output_shapes.items()
        }

    def temporal(self, windows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the temporal part over the gathered windows of `windows` (oldest first);
        returns the task outputs."""
        if len(next(iter(windows.values()))) == 0:
            return self.empty_outputs()
        values = self.temporal_session.run(None, {k: windows[k] for k in self.cache_names})
        return dict(zip(self.outputs, values, strict=True))


def _load(path: Path, precision: str) -> onnx.ModelProto:
    """Read one model file, with a clear error when it is missing or unreadable."""
    if not path.is_file():
        make = PRECISION_HINT.get(precision, "`affect-perception export`")
        raise ModelLoadError(f"model file {path} does not exist; make it with {make}")
    try:
        return onnx.load(str(path))
    except Exception as err:  # protobuf's DecodeError and onnx's own errors
        raise ModelLoadError(f"model file {path} cannot be loaded: {err}") from err


def _shape_text(value: onnx.ValueInfoProto, batch: int) -> str:
    """``NxCxHxW`` of a graph input with ``batch`` for its dynamic (face) axis."""
    return "x".join(str(d.dim_value or batch) for d in value.type.tensor_type.shape.dim)
