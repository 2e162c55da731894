"""Random-init affect models for the benchmarks: the torch model and its exported ONNX files.

Speed does not depend on the weights, so untrained models stand in for trained ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Seed of the random weights, so every run benchmarks the same model.
MODEL_SEED = 0
# Synthetic crops calibrating the INT8 encoder of a random model.
CALIBRATION_CROPS = 8


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


def add_precision(model: BenchModel, precision: str) -> None:
    """Write the files of ``precision`` into the model's folder (fp32 has them already):
    the float16 pair by export, the INT8 encoder calibrated on a few synthetic crops (the
    weights are random: only the speed counts)."""
    if precision == "fp16":
        from affect_perception.model.export import export_onnx

        export_onnx(model.torch_model, model.model_dir, fp16=True)
    elif precision == "int8":
        from affect_perception.model.calibration import synthetic_crops
        from affect_perception.model.quantize import quantize_encoder

        size = model.torch_model.config.input_size
        quantize_encoder(model.model_dir, synthetic_crops(CALIBRATION_CROPS, size))
