"""Fold the temporal model's patch embedding into the per-frame encoder, by ONNX graph surgery.

The temporal model embeds each window with a strided 3D convolution, kernel (T, p, p) over
(W, S, S): a linear map, so a token of time patch t is the sum over its T frames k of a 2D
convolution of frame ``t·T + k`` with the kernel's slice k, plus the bias. The folded encoder
runs all T slices on each new frame once (one 2D convolution with T·dim outputs, no bias); the
window cache (:class:`~affect_perception.runtime.windows.FeatureWindows` with time patch T)
adds each frame's slices into the tokens it belongs to, so the folded temporal graph takes the
W/T whole tokens, adds the bias, and continues with the unchanged mixer. Nothing is
re-embedded, and no slice is summed twice, per window.

Works on the plain ``encoder.onnx``/``temporal.onnx`` of the model-file contract, so model
folders of any age get it at load; torch is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Name of the folded encoder's output and temporal input for feature map ``name``.
EMBED_SUFFIX = "_embed"
# Ops allowed between a temporal input and its embedding convolution.
PASS_THROUGH = ("Cast", "Transpose")
TIME_FIRST = [0, 2, 1, 3, 4]  # (N, W, C, S, S) <-> (N, C, W, S, S)


class FoldError(ValueError):
    """The graphs do not have the shape the fold expects."""


@dataclass(frozen=True)
class _Embedding:
    """One feature map's 3D patch embedding, as found in the temporal graph."""

    feature: str
    conv: onnx.NodeProto
    weight: np.ndarray  # (dim, C, T, p, p) float32
    bias: np.ndarray  # (dim,) float32
    cast_to: int | None  # the dtype the graph computes in, if it casts its input


def embed_name(feature: str) -> str:
    """Name of the folded cache entry for feature map ``feature``."""
    return feature + EMBED_SUFFIX


def fold(
    encoder: onnx.ModelProto,
    temporal: onnx.ModelProto,
    feature_names: tuple[str, ...],
    window: int,
    int8: bool = False,
) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The folded (encoder, temporal) pair; the inputs are left unchanged.

    The folded encoder outputs ``<name>_embed`` (N, T·dim, S/p, S/p) per feature name, slice
    k in channels k·dim to (k+1)·dim; the folded temporal graph takes ``<name>_embed`` as
    (N, W/T, dim, S/p, S/p) tokens without their bias, oldest first (`FeatureWindows`).
    With ``int8`` the encoder embeds in 8 bits (`_int8_embedding`), for the INT8 encoder.

    Raises:
        FoldError: an input does not reach a 3D patch embedding the fold can split.
    """
    encoder, temporal = _copy(encoder), _copy(temporal)
    for name in feature_names:
        embedding = _find_embedding(temporal.graph, name, window)
        _extend_encoder(encoder, embedding, int8)
        _replace_embedding(temporal.graph, embedding, window)
    _prune(temporal.graph)
    return encoder, temporal


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copied = onnx.ModelProto()
    copied.CopyFrom(model)
    return copied


def _find_embedding(graph: onnx.GraphProto, feature: str, window: int) -> _Embedding:
    """Follow ``feature`` through Cast/Transpose to the 3D convolution that embeds it."""
    consumers = _consumers(graph)
    inits = {i.name: i for i in graph.initializer}
    tensor, cast_to, transposed = feature, None, False
    while True:
        users = consumers.get(tensor, [])
        if len(users) != 1:
            raise FoldError(
                f"temporal input {feature!r}: {tensor!r} feeds {len(users)} nodes, "
                "expected one chain to a Conv"
            )
        node = users[0]
        if node.op_type == "Conv":
            break
        if node.op_type not in PASS_THROUGH:
            raise FoldError(f"temporal input {feature!r} reaches {node.op_type}, not a Conv")
        if node.op_type == "Cast":
            cast_to = helper.get_attribute_value(node.attribute[0])
        else:
            if _attr(node, "perm") != TIME_FIRST:
                raise FoldError(f"temporal input {feature!r}: transpose {_attr(node, 'perm')}")
            transposed = True
        tensor = node.output[0]
    weight_init = inits.get(node.input[1])
    if not transposed or weight_init is None or len(weight_init.dims) != 5:
        raise FoldError(f"temporal input {feature!r}: no 3D patch embedding after a transpose")
    weight = numpy_helper.to_array(weight_init).astype(np.float32)
    kernel = list(weight.shape[2:])
    if (
        _attr(node, "strides") != kernel
        or any(_attr(node, "pads") or [])
        or any(d != 1 for d in _attr(node, "dilations") or [])
        or (_attr(node, "group") or 1) != 1
        or window % kernel[0]
    ):
        raise FoldError(
            f"temporal input {feature!r}: the Conv is not a patch embedding "
            f"(kernel {kernel}, strides {_attr(node, 'strides')})"
        )
    bias = (
        numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
        if len(node.input) > 2 and node.input[2]
        else np.zeros(weight.shape[0], np.float32)
    )
    return _Embedding(feature, node, weight, bias, cast_to)


def _extend_encoder(model: onnx.ModelProto, emb: _Embedding, int8: bool) -> None:
    """Add the per-frame partial embeddings of ``emb.feature`` as the encoder's output."""
    graph = model.graph
    dim, channels, time_patch, patch, _ = emb.weight.shape
    name = embed_name(emb.feature)
    old = next((o for o in graph.output if o.name == emb.feature), None)
    if old is None:
        raise FoldError(f"the encoder has no output {emb.feature!r}")
    dims = [d.dim_param or d.dim_value for d in old.type.tensor_type.shape.dim]
    side = dims[2] // patch if isinstance(dims[2], int) and dims[2] else "S"
    # (dim, C, T, p, p) -> (T·dim, C, p, p): output channel k·dim + d is slice k of filter d
    kernel = emb.weight.transpose(2, 0, 1, 3, 4).reshape(time_patch * dim, channels, patch, patch)
    if int8:
        if side == "S":
            raise FoldError(f"encoder output {emb.feature!r} has no fixed size: {dims}")
        _int8_embedding(model, emb.feature, name, kernel, int(side))
    else:
        graph.initializer.append(
            numpy_helper.from_array(np.ascontiguousarray(kernel), f"{name}/weight")
        )
        graph.node.append(
            helper.make_node(
                "Conv",
                [emb.feature, f"{name}/weight"],
                [name],
                name=f"{name}/Conv",
                kernel_shape=[patch, patch],
                strides=[patch, patch],
            )
        )
    graph.output.remove(old)
    graph.output.append(
        helper.make_tensor_value_info(
            name, TensorProto.FLOAT, [dims[0], time_patch * dim, side, side]
        )
    )


def _int8_embedding(
    model: onnx.ModelProto, feature: str, name: str, kernel: np.ndarray, side: int
) -> None:
    """The patch embedding as an 8-bit matrix product: patches (N, s·s, C·p·p) times the
    kernel (C·p·p, T·dim) in signed 7-bit per output channel (as `quantize` keeps weights, so
    processors without VNNI do not saturate), activations quantised per call
    (``DynamicQuantizeMatMul``, so no calibration), float32 out as (N, T·dim, s, s)."""
    outputs, channels, patch, _ = kernel.shape
    matrix = kernel.reshape(outputs, -1).T
    scale = np.abs(matrix).max(axis=0) / 63
    scale[scale == 0] = 1
    constants = {
        "maps": np.array([0, channels, side, patch, side, patch], np.int64),
        "patches": np.array([0, side * side, channels * patch * patch], np.int64),
        "out": np.array([0, outputs, side, side], np.int64),
        "weight_int8": np.round(matrix / scale).astype(np.int8),
        "weight_scale": scale.astype(np.float32),
    }
    for key, value in constants.items():
        model.graph.initializer.append(numpy_helper.from_array(value, f"{name}/{key}"))
    x = [f"{name}/{i}" for i in range(5)]  # the intermediate tensors
    model.graph.node.extend(
        [
            helper.make_node("Reshape", [feature, f"{name}/maps"], [x[0]]),
            helper.make_node("Transpose", [x[0]], [x[1]], perm=[0, 2, 4, 1, 3, 5]),
            helper.make_node("Reshape", [x[1], f"{name}/patches"], [x[2]]),
            helper.make_node(
                "DynamicQuantizeMatMul",
                [x[2], f"{name}/weight_int8", f"{name}/weight_scale"],
                [x[3]],
                domain="com.microsoft",
            ),
            helper.make_node("Transpose", [x[3]], [x[4]], perm=[0, 2, 1]),
            helper.make_node("Reshape", [x[4], f"{name}/out"], [name]),
        ]
    )
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _replace_embedding(graph: onnx.GraphProto, emb: _Embedding, window: int) -> None:
    """Take the Conv's output as the cache's summed tokens plus the bias, not from the maps."""
    dim, _, time_patch, patch, _ = emb.weight.shape
    name = embed_name(emb.feature)
    old = next(i for i in graph.input if i.name == emb.feature)
    dims = [d.dim_param or d.dim_value for d in old.type.tensor_type.shape.dim]
    if not isinstance(dims[3], int) or not dims[3]:
        raise FoldError(f"temporal input {emb.feature!r} has no fixed map size: {dims}")
    side = dims[3] // patch
    graph.input.remove(old)
    graph.input.append(
        helper.make_tensor_value_info(
            name, TensorProto.FLOAT, [dims[0], window // time_patch, dim, side, side]
        )
    )
    graph.initializer.append(numpy_helper.from_array(emb.bias.reshape(dim, 1, 1), f"{name}/bias"))
    nodes = [helper.make_node("Add", [name, f"{name}/bias"], [f"{name}/tokens"])]
    last = f"{name}/tokens"
    if emb.cast_to is not None and emb.cast_to != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [last], [f"{name}/cast"], to=emb.cast_to))
        last = f"{name}/cast"
    nodes.append(helper.make_node("Transpose", [last], [emb.conv.output[0]], perm=TIME_FIRST))
    position = list(graph.node).index(emb.conv)
    graph.node.remove(emb.conv)
    for offset, node in enumerate(nodes):
        node.name = f"{name}/{node.op_type}"
        graph.node.insert(position + offset, node)


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes and initializers nothing needs any more (the old casts and transposes)."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    return users


def _attr(node: onnx.NodeProto, name: str) -> object:
    found = next((a for a in node.attribute if a.name == name), None)
    return None if found is None else helper.get_attribute_value(found)
