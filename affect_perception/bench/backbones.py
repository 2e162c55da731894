"""Backbone cost: MobileNetV4-conv-small against the backbones of the usual AU/VA peers.

EfficientNet-B0 (HSEmotion/EmotiEffLib, py-feat's emotion models) and ResNet-18 (LibreFace,
many Aff-Wild2 baselines), all from timm with random weights, run as feature extractors
(``forward_features``: no pooling, no classifier) on 224 × 224 crops in the same harness:
exported to ONNX the same way and timed in onnxruntime, and in torch eager, interleaved.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort

from affect_perception.bench.flops import count_flops
from affect_perception.bench.runtimes import torch_call, torch_device
from affect_perception.bench.timing import interleaved, speedup

OURS = "mobilenetv4_conv_small"
PEERS = ("efficientnet_b0", "resnet18")
INPUT_SIZE = 224
OPSET = 17


def _features_module(name: str) -> object:
    """A timm model whose forward is its ``forward_features``, in eval mode."""
    import timm
    from torch import nn

    class Features(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = timm.create_model(name, pretrained=False)

        def forward(self, x):  # noqa: ANN001, ANN202 - traced by the exporter
            return self.net.forward_features(x)

    return Features().eval()


def _export(module: object, path: Path) -> None:
    import torch

    sample = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (sample,),
            str(path),
            input_names=["image"],
            output_names=["features"],
            opset_version=OPSET,
            dynamo=False,
            dynamic_axes={"image": {0: "N"}, "features": {0: "N"}},
        )


def backbone_costs(
    work_dir: Path,
    batches: tuple[int, ...],
    providers: tuple[str, ...],
    threads: int,
    repeats: int,
) -> dict[str, object]:
    """Milliseconds per batch of every backbone, and each peer's cost relative to ours.

    Returns:
        ``device`` (torch's), ``gflops`` per backbone (one crop), ``ms`` as
        {runtime: {batch: {backbone: median}}} and ``cost_vs_ours`` as
        {runtime: {batch: {peer: peer ms / our ms}}} (median per-repeat ratio).
    """
    import torch

    torch.set_num_threads(threads)
    device = torch_device(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    names = (OURS, *PEERS)
    modules, sessions, gflops = {}, {}, {}
    for name in names:
        module = _features_module(name)
        gflops[name] = count_flops(module, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)) / 1e9
        path = work_dir / f"{name}.onnx"
        _export(module, path)
        modules[name] = module.to(device)
        sessions[name] = ort.InferenceSession(str(path), options, providers=list(providers))
    ms: dict[str, dict[int, dict[str, float]]] = {}
    ratios: dict[str, dict[int, dict[str, float]]] = {}
    rng = np.random.default_rng(4)
    for batch in batches:
        image = rng.standard_normal((batch, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
        tensor = torch.from_numpy(image).to(device)
        runs = {
            "onnxruntime": {n: _ort_call(sessions[n], image) for n in names},
            "torch": {n: torch_call(modules[n], tensor, device=device) for n in names},
        }
        for runtime, calls in runs.items():
            timings = interleaved(calls, repeats)
            ms.setdefault(runtime, {})[batch] = {n: t.median_ms for n, t in timings.items()}
            ratios.setdefault(runtime, {})[batch] = {
                peer: speedup(timings[peer], timings[OURS]) for peer in PEERS
            }
    return {"device": device, "gflops": gflops, "ms": ms, "cost_vs_ours": ratios}


def _ort_call(session: ort.InferenceSession, image: np.ndarray):  # noqa: ANN202
    return lambda: session.run(None, {"image": image})
