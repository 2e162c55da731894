"""A model folder's ONNX pair (``encoder.onnx``, ``temporal.onnx``, ``model.json``) back into a
trainable `AffectModel`.

The shipped demo model is ONNX only. Its export names most weights after the torch parameters
(``model.tam...``, ``model.heads...``, ``model.backbone.reduce...``); the legacy exporter folds
each backbone BatchNorm into the convolution before it and stores that pair, and the mixers'
Linear weights (transposed, for ``MatMul``), under anonymous names. Those are matched in graph
order to the torch modules in module order, each checked by shape. A folded convolution goes
back as the convolution's weight with its BatchNorm made the identity plus the folded bias
(scale 1, shift the bias, running mean 0, running variance ``1 - eps``): the same function in
eval mode, so such a model must train with its BatchNorm statistics fixed
(``run.freeze_norm``). The rebuilt model is then run against onnxruntime on random inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig
from affect_perception.model.heads import LOGIT_TASKS
from affect_perception.model_files import MODEL_JSON, PRECISION_FILES

# Prefix the export wrappers (EncoderGraph, TemporalGraph) add to every parameter name.
GRAPH_PREFIX = "model."
# Largest |torch - onnxruntime| of the rebuilt model on the check inputs (float32 rounding).
TOLERANCE = 1e-4
CHECK_SEED = 0


class OnnxImportError(ValueError):
    """A model folder whose ONNX graphs cannot be turned back into the model they describe."""


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    # copies: numpy_helper's arrays are read-only views, which torch.from_numpy warns about
    return {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}


def _anonymous_weights(model: onnx.ModelProto, op: str) -> list[tuple[np.ndarray, ...]]:
    """The constant inputs of every ``op`` node whose weight is not named after a torch
    parameter, in graph order: (weight,) or (weight, bias)."""
    values = _initializers(model)
    found = []
    for node in model.graph.node:
        if node.op_type != op:
            continue
        weights = [values[name] for name in node.input[1:] if name in values]
        if weights and not node.input[1].startswith(GRAPH_PREFIX):
            found.append(tuple(weights))
    return found


def _named(model: onnx.ModelProto) -> dict[str, torch.Tensor]:
    """Initializers named after torch parameters, prefix removed."""
    return {
        k[len(GRAPH_PREFIX) :]: torch.from_numpy(v)
        for k, v in _initializers(model).items()
        if k.startswith(GRAPH_PREFIX)
    }


def _folded_pairs(model: AffectModel) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Every backbone convolution without a bias and the BatchNorm after it, module order."""
    convs = [
        m for m in model.backbone.body.modules() if isinstance(m, nn.Conv2d) and m.bias is None
    ]
    norms = [m for m in model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != len(norms):
        raise OnnxImportError(
            f"backbone has {len(convs)} convolutions without bias but "
            f"{len(norms)} BatchNorms; cannot pair them"
        )
    return list(zip(convs, norms, strict=True))


def _load_backbone(model: AffectModel, encoder: onnx.ModelProto, path: Path) -> None:
    pairs = _folded_pairs(model)
    folded = _anonymous_weights(encoder, "Conv")
    if len(folded) != len(pairs):
        raise OnnxImportError(
            f"{path}: {len(folded)} folded convolutions, the model's config describes {len(pairs)}"
        )
    with torch.no_grad():
        for k, ((conv, norm), weights) in enumerate(zip(pairs, folded, strict=True)):
            if len(weights) != 2 or tuple(weights[0].shape) != tuple(conv.weight.shape):
                raise OnnxImportError(
                    f"{path}: folded convolution {k} has shape "
                    f"{weights[0].shape}, expected {tuple(conv.weight.shape)}"
                )
            conv.weight.copy_(torch.from_numpy(weights[0]))
            assert norm.running_mean is not None and norm.running_var is not None  # tracked
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(weights[1]))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)


def _load_linears(model: AffectModel, temporal: onnx.ModelProto, path: Path) -> None:
    named = set(_named(temporal))
    linears = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and f"{n}.weight" not in named
    ]
    matmuls = _anonymous_weights(temporal, "MatMul")
    if len(matmuls) != len(linears):
        raise OnnxImportError(
            f"{path}: {len(matmuls)} anonymous MatMul weights, the model's "
            f"config describes {len(linears)} Linear layers"
        )
    with torch.no_grad():
        for (name, linear), (weight,) in zip(linears, matmuls, strict=True):
            if tuple(weight.T.shape) != tuple(linear.weight.shape):
                raise OnnxImportError(
                    f"{path}: the MatMul weight for {name} has shape "
                    f"{weight.shape}, expected the transpose of "
                    f"{tuple(linear.weight.shape)}"
                )
            linear.weight.copy_(torch.from_numpy(weight.T.copy()))


def _load_named(model: AffectModel, graphs: dict[Path, onnx.ModelProto]) -> None:
    own = model.state_dict()
    for path, graph in graphs.items():
        for name, value in _named(graph).items():
            if name not in own or tuple(own[name].shape) != tuple(value.shape):
                raise OnnxImportError(
                    f"{path}: weight {name} {tuple(value.shape)} does not fit "
                    "the model its model.json config describes"
                )
            own[name].copy_(value)


def _check(
    model: AffectModel, encoder: onnx.ModelProto, temporal: onnx.ModelProto, model_dir: Path
) -> float:
    """Largest |torch - onnxruntime| over both graphs on random inputs."""
    c = model.config
    generator = torch.Generator().manual_seed(CHECK_SEED)
    images = torch.randn(c.window, 3, c.input_size, c.input_size, generator=generator)
    with torch.no_grad():
        maps = model.encode(images)
        out = model.temporal({n: m.unsqueeze(0) for n, m in maps.items()})
    errors = []
    session = ort.InferenceSession(encoder.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(list(model.feature_names), {"image": images.numpy()})
    errors += [
        float(np.abs(g - maps[n].numpy()).max() / max(1.0, float(maps[n].abs().max())))
        for g, n in zip(got, model.feature_names, strict=True)
    ]
    session = ort.InferenceSession(
        temporal.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feeds = {n: g[None] for n, g in zip(model.feature_names, got, strict=True)}
    for task, value in zip(c.tasks, session.run(list(c.tasks), feeds), strict=True):
        want = torch.sigmoid(out[task]) if task in LOGIT_TASKS else out[task]
        errors.append(float(np.abs(value - want.numpy()).max()))
    worst = max(errors)
    if not worst < TOLERANCE:
        raise OnnxImportError(
            f"{model_dir}: the model rebuilt from its ONNX files differs from "
            f"them by {worst:.2e} (tolerance {TOLERANCE}); it was not exported "
            "by this package's `export`, so give a checkpoint instead"
        )
    return worst


def model_from_onnx(model_dir: str | Path) -> AffectModel:
    """The trainable `AffectModel` of an fp32 model folder (see module docstring), in eval
    mode.

    Raises:
        OnnxImportError: a file is missing, or the graphs do not fit model.json's config or
            do not compute what the rebuilt model computes.
    """
    model_dir = Path(model_dir)
    paths = [model_dir / f for f in (*PRECISION_FILES["fp32"], MODEL_JSON)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise OnnxImportError(
            f"{missing[0]} is missing: expected a model folder with "
            "encoder.onnx, temporal.onnx and model.json"
        )
    try:
        info = json.loads(paths[2].read_text())
        config = ModelConfig.from_dict({**info["config"], "backbone_weights": None})
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise OnnxImportError(f"{paths[2]} holds no valid model config: {err}") from err
    encoder, temporal = (onnx.load(str(p)) for p in paths[:2])
    model = AffectModel(config).eval()
    _load_named(model, {paths[0]: encoder, paths[1]: temporal})
    _load_backbone(model, encoder, paths[0])
    _load_linears(model, temporal, paths[1])
    _check(model, encoder, temporal, model_dir)
    return model
