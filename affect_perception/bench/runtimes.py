"""onnxruntime against torch eager on the same model, weights and inputs.

One unit of work is one frame's model step for ``faces`` faces: the encoder on their crops,
then the temporal model on their windows (already normalised float32 inputs in both, so only
the runtimes differ).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from affect_perception.bench.models import BenchModel
from affect_perception.bench.timing import interleaved, speedup
from affect_perception.runtime.engine import AffectEngine, EngineConfig

# Seed of the random inputs.
INPUT_SEED = 2
# onnxruntime providers that run on an NVIDIA GPU: torch then runs there too.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def torch_device(providers: tuple[str, ...]) -> str:
    """``"cuda"`` when a GPU provider is asked for and torch sees a GPU, else ``"cpu"``."""
    import torch

    wants_gpu = any(p in GPU_PROVIDERS for p in providers)
    return "cuda" if wants_gpu and torch.cuda.is_available() else "cpu"


def torch_call(module: object, *inputs: object, device: str) -> Callable[[], None]:
    """A call of ``module(*inputs)`` in inference mode that waits for the GPU to finish."""
    import torch

    def call() -> None:
        with torch.inference_mode():
            module(*inputs)
        if device == "cuda":
            torch.cuda.synchronize()

    return call


def ort_vs_torch(
    model: BenchModel, faces: int, providers: tuple[str, ...], threads: int, repeats: int
) -> dict[str, float]:
    """Milliseconds per frame step in torch eager and in onnxruntime, and the speedup.

    Returns:
        ``faces``, ``device`` (torch's), ``torch_ms``, ``ort_ms`` (medians) and ``speedup``
        (median per-repeat ratio torch / onnxruntime).
    """
    import torch

    torch.set_num_threads(threads)
    device = torch_device(providers)
    # unfolded: both runtimes do the same maths (the fold's gain is the streaming section's)
    engine = AffectEngine(
        EngineConfig(
            model_dir=model.model_dir, providers=providers, intra_op_threads=threads, fold=False
        )
    )
    rng = np.random.default_rng(INPUT_SEED)
    side, window = engine.info.input_size, engine.info.window
    image = rng.standard_normal((faces, 3, side, side), np.float32)
    windows = {
        name: rng.standard_normal((faces, window, *shape), np.float32)
        for name, shape in engine.feature_shapes.items()
    }
    net = model.torch_model.to(device)
    torch_image = torch.from_numpy(image).to(device)
    torch_windows = {name: torch.from_numpy(value).to(device) for name, value in windows.items()}

    def step() -> None:
        net.encode(torch_image)
        net.temporal(torch_windows)

    def run_ort() -> None:
        engine.encoder.run(None, {"image": image})
        engine.temporal_session.run(None, windows)

    timings = interleaved(
        {"torch": torch_call(step, device=device), "onnxruntime": run_ort}, repeats
    )
    net.to("cpu")
    return {
        "faces": faces,
        "device": device,
        "torch_ms": timings["torch"].median_ms,
        "ort_ms": timings["onnxruntime"].median_ms,
        "speedup": speedup(timings["torch"], timings["onnxruntime"]),
    }
