"""Run TensorFlow.js models in numpy: weights manifests and the few graph ops the teachers use.

A tfjs model is a JSON file (a graph topology or none) with a *weights manifest*: the names,
shapes and dtypes of tensors stored back to back in one or more ``.bin`` files, each either
float32 or quantised (uint8/uint16 with ``min`` and ``scale``, or float16). :func:`load_weights`
turns that into numpy arrays; :class:`GraphModel` evaluates a tfjs graph model node by node
with the ops below (NHWC, float32, TensorFlow's SAME/VALID padding), which is all the teachers
need. Nothing here imports TensorFlow or torch.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Callable

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32}
_QUANT = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def load_weights(manifest: list[dict], folder: Path) -> dict[str, np.ndarray]:
    """Arrays named by a tfjs weights manifest, read from its ``.bin`` files in ``folder``.

    Raises:
        ValueError: a dtype or quantisation this reader does not know, or the files are short.
    """
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((Path(folder) / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            quant = spec.get("quantization")
            stored = _QUANT[quant["dtype"]] if quant else _DTYPES.get(spec["dtype"])
            if stored is None:
                raise ValueError(f"{spec['name']}: unsupported dtype {spec['dtype']}")
            size = count * np.dtype(stored).itemsize
            if offset + size > len(data):
                raise ValueError(f"weights files too short for {spec['name']}")
            raw = np.frombuffer(data, stored, count, offset)
            offset += size
            if quant and quant["dtype"] != "float16":
                scale, low = np.float32(quant["scale"]), np.float32(quant["min"])
                raw = raw.astype(np.float32) * scale + low
            weights[spec["name"]] = raw.astype(_DTYPES[spec["dtype"]]).reshape(shape)
    return weights


def check_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """``crops`` as float32 after checking they are (n, size, size, 3)."""
    crops = np.asarray(crops, np.float32)
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ValueError(f"crops must be (n, {size}, {size}, 3), got {crops.shape}")
    return crops


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_hw(
    x: np.ndarray, kernel: tuple[int, int], stride: int, padding: str, value: float = 0.0
) -> np.ndarray:
    if padding == "VALID":
        return x
    ph = _same_pads(x.shape[1], kernel[0], stride)
    pw = _same_pads(x.shape[2], kernel[1], stride)
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: int) -> tuple[int, int]:
    """Output height and width of a VALID window over an already padded ``x``."""
    return (x.shape[1] - kernel[0]) // stride + 1, (x.shape[2] - kernel[1]) // stride + 1


def conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: str = "SAME") -> np.ndarray:
    """NHWC convolution, ``w`` (kh, kw, cin, cout)."""
    kh, kw = w.shape[:2]
    x = _pad_hw(x, (kh, kw), stride, padding)
    oh, ow = _windows(x, (kh, kw), stride)
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.float32)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
            out += patch @ w[i, j]
    return out


def depthwise_conv2d(
    x: np.ndarray, w: np.ndarray, stride: int = 1, padding: str = "SAME"
) -> np.ndarray:
    """NHWC depthwise convolution, ``w`` (kh, kw, c, 1)."""
    kh, kw = w.shape[:2]
    x = _pad_hw(x, (kh, kw), stride, padding)
    oh, ow = _windows(x, (kh, kw), stride)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), np.float32)
    for i in range(kh):
        for j in range(kw):
            out += x[:, i : i + stride * oh : stride, j : j + stride * ow : stride] * w[i, j, :, 0]
    return out


def pool(
    x: np.ndarray, kernel: tuple[int, int], stride: int, padding: str, kind: str
) -> np.ndarray:
    """Max or average pooling (``kind`` "max" / "avg"); SAME max pooling ignores the padding."""
    if kind == "avg" and padding != "VALID":
        raise ValueError("only VALID average pooling is implemented")
    x = _pad_hw(x, kernel, stride, padding, -np.inf if kind == "max" else 0.0)
    oh, ow = _windows(x, kernel, stride)
    patches = [
        x[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]
    return np.max(patches, axis=0) if kind == "max" else np.mean(patches, axis=0)


def prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """x where positive, alpha·x elsewhere."""
    return np.where(x > 0, x, x * alpha).astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attr(node: dict, key: str, default=None):
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(s).decode() for s in items["s"]]
        return [int(i) for i in items.get("i", [])]
    if "b" in value:
        return bool(value["b"])
    return value


def _fused_conv(node: dict, args: list[np.ndarray]) -> np.ndarray:
    x, w, *extra = args
    stride = _attr(node, "strides", [1, 1, 1, 1])[1]
    out = conv2d(x, w, stride, _attr(node, "padding", "VALID"))
    for op in _attr(node, "fused_ops", []):
        if op == "BiasAdd":
            out = out + extra.pop(0)
        elif op == "Relu":
            out = np.maximum(out, 0)
        elif op == "Prelu":
            out = prelu(out, extra.pop(0))
        else:
            raise ValueError(f"unsupported fused op {op} in {node['name']}")
    return out


def _depthwise(node: dict, args: list[np.ndarray]) -> np.ndarray:
    stride = _attr(node, "strides", [1, 1, 1, 1])[1]
    return depthwise_conv2d(args[0], args[1], stride, _attr(node, "padding", "VALID"))


def _max_pool(node: dict, args: list[np.ndarray]) -> np.ndarray:
    ksize = _attr(node, "ksize")
    return pool(
        args[0], (ksize[1], ksize[2]), _attr(node, "strides")[1], _attr(node, "padding"), "max"
    )


def _mean(node: dict, args: list[np.ndarray]) -> np.ndarray:
    axes = tuple(int(a) for a in np.atleast_1d(args[1]))
    return args[0].mean(axis=axes, keepdims=bool(_attr(node, "keep_dims", False)))


OPS: dict[str, Callable[[dict, list[np.ndarray]], np.ndarray]] = {
    "_FusedConv2D": _fused_conv,
    "DepthwiseConv2dNative": _depthwise,
    "MaxPool": _max_pool,
    "AddV2": lambda n, a: a[0] + a[1],
    "Add": lambda n, a: a[0] + a[1],
    "Relu": lambda n, a: np.maximum(a[0], 0),
    "Prelu": lambda n, a: prelu(a[0], a[1]),
    "Sigmoid": lambda n, a: 1 / (1 + np.exp(-a[0])),
    "Softmax": lambda n, a: softmax(a[0]),
    "Mean": _mean,
    "Pad": lambda n, a: np.pad(a[0], a[1].astype(int)),
    "Reshape": lambda n, a: a[0].reshape(a[1].astype(int)),
    "Identity": lambda n, a: a[0],
}


class GraphModel:
    """A tfjs graph model (``model.json`` + ``.bin``) evaluated in numpy, batch of NHWC inputs."""

    def __init__(self, model_json: Path) -> None:
        spec = json.loads(Path(model_json).read_text())
        if spec.get("format") != "graph-model":
            raise ValueError(f"{model_json} is not a tfjs graph model")
        self.weights = load_weights(spec["weightsManifest"], Path(model_json).parent)
        self.nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
        unknown = {n["op"] for n in self.nodes.values()} - set(OPS) - {"Const", "Placeholder"}
        if unknown:
            raise ValueError(f"{model_json} uses ops this runner lacks: {sorted(unknown)}")
        self.input = next(n for n, v in self.nodes.items() if v["op"] == "Placeholder")

    def run(self, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        """Values of the named output nodes for input ``x``."""
        values: dict[str, np.ndarray] = {self.input: np.asarray(x, np.float32)}

        def value(name: str) -> np.ndarray:
            name = name.split(":")[0]
            if name in values:
                return values[name]
            node = self.nodes[name]
            if node["op"] == "Const":
                values[name] = self.weights[name]
            else:
                args = [value(i) for i in node.get("input", []) if not i.startswith("^")]
                values[name] = np.asarray(OPS[node["op"]](node, args), np.float32)
            return values[name]

        return [value(name) for name in outputs]
