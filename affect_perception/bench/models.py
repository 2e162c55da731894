"""Random-init affect models for the benchmarks: the torch model and its exported ONNX files.

Speed does not depend on the weights, so untrained models stand in for trained ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Seed of the random weights, so every run benchmarks the same model.
MODEL_SEED = 0


@dataclass
class BenchModel:
    """An untrained model in torch and exported next to it.

    Attributes:
        torch_model: the `AffectModel` in eval mode.
        model_dir: folder with its encoder.onnx, temporal.onnx and model.json.
    """

    torch_model: object
    model_dir: Path


def random_model(out_dir: Path, window: int, variant: str = "single") -> BenchModel:
    """Build an untrained model with window ``window`` and export it into ``out_dir``."""
    import torch

    from affect_perception.model.affect_model import AffectModel
    from affect_perception.model.config import ModelConfig
    from affect_perception.model.export import export_onnx

    torch.manual_seed(MODEL_SEED)
    model = AffectModel(ModelConfig(variant=variant, window=window)).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out_dir)
    return BenchModel(torch_model=model, model_dir=out_dir)
