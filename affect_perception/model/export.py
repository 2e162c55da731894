"""ONNX export of the streaming split: ``encoder.onnx``, ``temporal.onnx`` and ``model.json``.

A checked export (after timm's ``utils/onnx.py``): eval mode, a warm-up forward, named inputs
and outputs with a dynamic face axis, the legacy exporter at opset 17 (one self-contained
file per graph), ``onnx.checker`` full check, then onnxruntime compared with torch, for the
files as written and for the runtime's fold of the patch embedding into the encoder
(runtime/fold.py), so every export carries the streaming fold. The files follow the
model-file contract of docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from affect_perception import provenance
from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.heads import LOGIT_TASKS
from affect_perception.model_files import (
    PRECISION_FILES,
    read_metadata,
    write_metadata,
    write_model_json,
)
from affect_perception.runtime.fold import FoldError, embed_name, fold
from affect_perception.runtime.windows import FeatureWindows

LOG = logging.getLogger(__name__)

OPSET = 17
# Name of the dynamic face axis in both graphs.
BATCH_AXIS = "N"
# Largest |onnxruntime - torch| allowed, relative to max(1, peak |torch value|): an absolute
# bound for the task outputs (all within [-1, 1]); random-init feature maps reach a few
# hundred, where float32 rounding alone differs by about 4e-4.
FP32_TOLERANCE = 1e-4
FP16_TOLERANCE = 1e-2
# Faces in the traced sample and in the check: different, so the check proves the axis dynamic.
TRACE_FACES = 1
CHECK_FACES = 2
# Seed of the random check inputs, so an export is reproducible.
CHECK_SEED = 0


class ExportError(RuntimeError):
    """An exported graph fails the ONNX checker or disagrees with torch."""


class EncoderGraph(nn.Module):
    """The per-frame encoder as a graph: ``image`` -> one map per feature name."""

    def __init__(self, model: AffectModel) -> None:
        super().__init__()
        self.model = model
        self.dtype = next(model.parameters()).dtype

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, 3, H, W) float32 -> float32 maps in ``feature_names`` order."""
        maps = self.model.encode(image.to(self.dtype))
        return tuple(maps[n].float() for n in self.model.feature_names)


class TemporalGraph(nn.Module):
    """The temporal part as a graph: one window per feature name -> task outputs in [0, 1] or
    [-1, 1] (the logit tasks go through a sigmoid here)."""

    def __init__(self, model: AffectModel) -> None:
        super().__init__()
        self.model = model
        self.dtype = next(model.parameters()).dtype

    def forward(self, *windows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, W, C, S, S) float32 per feature name -> float32 outputs in ``tasks`` order."""
        features = {
            n: w.to(self.dtype) for n, w in zip(self.model.feature_names, windows, strict=True)
        }
        out = self.model.temporal(features)
        return tuple(
            (torch.sigmoid(out[t]) if t in LOGIT_TASKS else out[t]).float()
            for t in self.model.config.tasks
        )


def model_id(model: AffectModel) -> str:
    """Architecture name plus a weights digest, e.g. ``<backbone>-single-w8-1a2b3c4d5e6f``."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    c = model.config
    return f"{c.backbone}-{c.variant}-w{c.window}-{digest.hexdigest()[:12]}"


def model_metadata(model: AffectModel) -> dict[str, Any]:
    """The contract's metadata keys with plain JSON values (model.json also adds ``config``)."""
    c = model.config
    return {
        "model_id": model_id(model),
        "variant": c.variant,
        "window": c.window,
        "time_patch": c.time_patch,
        "tasks": list(c.tasks),
        "au_names": list(AU_NAMES),
        "emi_names": list(EMI_NAMES),
        "feature_names": list(model.feature_names),
        "input_size": c.input_size,
        "mean": list(model.mean),
        "std": list(model.std),
    }


def export_onnx(
    model: AffectModel,
    out_dir: str | Path,
    fp16: bool = False,
    taught_on: str = provenance.UNKNOWN,
) -> Path:
    """Export, check and describe a model's encoder and temporal graphs.

    Writes ``encoder.onnx``, ``temporal.onnx`` and ``model.json`` into ``out_dir`` (and with
    ``fp16`` also ``encoder_fp16.onnx`` and ``temporal_fp16.onnx``: float16 weights and maths,
    float32 inputs and outputs). The model is left in the training mode it came in.
    ``taught_on`` (one of ``provenance.STATES``) goes into model.json as every output's
    ``provenance``.

    Returns:
        ``out_dir``.

    Raises:
        ExportError: a graph fails ``onnx.checker``, the runtime cannot fold the pair, or
            onnxruntime (as written or folded) disagrees with torch by more than FP32_TOLERANCE
            (FP16_TOLERANCE for the half-precision copy).
    """
    provenance.uniform(taught_on)  # a bad value fails before any work
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        metadata = model_metadata(model)
        frames, windows = _check_inputs(model)
        images = frames[:CHECK_FACES]
        with torch.no_grad():  # the warm-up forward, kept as the reference
            reference = _reference(model, images, windows)
        _export_pair(model, out_dir, "fp32", images, windows, reference, metadata, FP32_TOLERANCE)
        _check_fold(out_dir, "fp32", frames.numpy(), reference["temporal"], FP32_TOLERANCE)
        if fp16:
            half = copy.deepcopy(model).half()
            _export_pair(
                half, out_dir, "fp16", images, windows, reference, metadata, FP16_TOLERANCE
            )
            _check_fold(out_dir, "fp16", frames.numpy(), reference["temporal"], FP16_TOLERANCE)
    finally:
        model.train(was_training)
    model_json = {
        **metadata,
        "config": model.config.to_dict(),
        provenance.PROVENANCE_KEY: provenance.uniform(taught_on, model.config.tasks),
    }
    write_model_json(out_dir, model_json)
    return out_dir


def _check_inputs(model: AffectModel) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Random normalised frames (CHECK_FACES · W, 3, H, W), face by face, and the windows
    they encode to."""
    side, window = model.config.input_size, model.config.window
    generator = torch.Generator().manual_seed(CHECK_SEED)
    frames = torch.randn(CHECK_FACES * window, 3, side, side, generator=generator)
    with torch.no_grad():
        maps = model.encode(frames)
    windows = {n: m.unflatten(0, (CHECK_FACES, window)) for n, m in maps.items()}
    return frames, windows


def _reference(
    model: AffectModel, images: torch.Tensor, windows: dict[str, torch.Tensor]
) -> dict[str, dict[str, np.ndarray]]:
    """Torch outputs of both graphs on the check inputs, by graph and output name."""
    maps = EncoderGraph(model)(images)
    outputs = TemporalGraph(model)(*windows.values())
    return {
        "encoder": {n: m.numpy() for n, m in zip(model.feature_names, maps, strict=True)},
        "temporal": {t: o.numpy() for t, o in zip(model.config.tasks, outputs, strict=True)},
    }


def _export_pair(
    model: AffectModel,
    out_dir: Path,
    precision: str,
    images: torch.Tensor,
    windows: dict[str, torch.Tensor],
    reference: dict[str, dict[str, np.ndarray]],
    metadata: dict[str, Any],
    tolerance: float,
) -> None:
    """Export both graphs of ``model`` into the files of ``precision``, then check them."""
    names = list(model.feature_names)
    graphs = {
        "encoder": (EncoderGraph(model), {"image": images}, names),
        "temporal": (TemporalGraph(model), windows, list(model.config.tasks)),
    }
    for file, (graph, (module, feeds, outputs)) in zip(
        PRECISION_FILES[precision], graphs.items(), strict=True
    ):
        path = out_dir / file
        trace = tuple(x[:TRACE_FACES] for x in feeds.values())
        _export_graph(module.eval(), trace, path, list(feeds), outputs, metadata)
        errors = _compare(path, {k: v.numpy() for k, v in feeds.items()}, reference[graph])
        _within(str(path), errors, tolerance)


def _export_graph(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    metadata: dict[str, Any],
) -> None:
    """Legacy-export one graph with a dynamic face axis, add the metadata, run the checker."""
    with warnings.catch_warnings():
        # the legacy exporter announces its deprecation, and the input shape checks of
        # encode/temporal run once at trace time, which the tracer reports as constants
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={n: {0: BATCH_AXIS} for n in input_names + output_names},
        )
    proto = onnx.load(str(path))
    write_metadata(proto, metadata)
    onnx.save(proto, str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"{path} fails the ONNX checker: {err}") from err


def _check_fold(
    out_dir: Path,
    precision: str,
    frames: np.ndarray,
    reference: dict[str, np.ndarray],
    tolerance: float,
) -> None:
    """Fold the written pair as the runtime does; stream ``frames`` (face by face) through
    its window cache; compare the full windows' outputs to torch."""
    paths = [out_dir / file for file in PRECISION_FILES[precision]]
    encoder, temporal = (onnx.load(str(path)) for path in paths)
    names = tuple(o.name for o in encoder.graph.output)
    window = len(frames) // CHECK_FACES
    try:
        encoder, temporal = fold(encoder, temporal, names, window)
    except FoldError as err:
        raise ExportError(
            f"{paths[1]}: the runtime cannot fold its patch embedding: {err}"
        ) from err
    entries = dict(
        zip(
            (embed_name(n) for n in names),
            _cpu_session(encoder).run(None, {"image": frames}),
            strict=True,
        )
    )
    faces = [str(face) for face in range(CHECK_FACES)]
    cache = FeatureWindows(
        window,
        {k: v.shape[1:] for k, v in entries.items()},
        max_tracks=CHECK_FACES,
        max_gap=0,
        time_patch=int(read_metadata(temporal)["time_patch"]),
    )
    for t in range(window):
        cache.push(faces, {k: v[t::window] for k, v in entries.items()})
    errors = _errors(_cpu_session(temporal).run(list(reference), cache.gather(faces)), reference)
    _within(f"{paths[1]} folded", errors, tolerance)


def _within(what: str, errors: dict[str, float], tolerance: float) -> None:
    """Log ``what``'s differences to torch; raise ExportError where one reaches ``tolerance``."""
    LOG.info(
        "%s: largest relative difference to torch %s",
        what,
        {k: f"{v:.1e}" for k, v in errors.items()},
    )
    bad = {k: v for k, v in errors.items() if not v < tolerance}
    if bad:
        raise ExportError(
            f"{what}: onnxruntime differs from torch by {bad} (relative to max(1, peak "
            f"value)), above the tolerance {tolerance}"
        )


def _compare(
    path: Path, feeds: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> dict[str, float]:
    """Run a graph in onnxruntime (CPU); max |ort - torch| / max(1, peak |torch|) per output."""
    return _errors(_cpu_session(onnx.load(str(path))).run(list(reference), feeds), reference)


def _cpu_session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _errors(outputs: list[np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        name: float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
        for (name, want), got in zip(reference.items(), outputs, strict=True)
    }
