"""`affect-perception quantize`: the INT8 encoder of a model folder, by onnxruntime static
quantisation calibrated on synthetic and real check-set face crops.

Writes ``encoder_int8.onnx`` next to ``encoder.onnx`` (the `precision: int8` file of
runtime/engine.py; the temporal model stays float32): QDQ format, weights signed 8-bit per
output channel, activations unsigned 8-bit per tensor from min/max calibration, with
``reduce_range`` (7-bit weights) so that x86 processors without VNNI do not saturate their
8-bit multiply-adds; the stem convolution over the RGB channels stays float32 (`rgb_convs`).
The ONNX metadata of the source is kept. Torch is not needed. At load, the engine folds the
temporal patch embedding into this encoder as 8-bit matrix products too (runtime/fold.py,
activations quantised per call), so the whole per-frame encode step runs in 8 bits but the
stem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

from affect_perception.model_files import (
    ENCODER_FILE,
    MODEL_JSON,
    PRECISION_FILES,
    read_metadata,
    write_metadata,
)
from affect_perception.runtime.alignment import normalize

LOG = logging.getLogger(__name__)

INT8_ENCODER = PRECISION_FILES["int8"][0]
# Synthetic calibration crops by default (the check set adds about 20 real ones).
DEFAULT_SYNTHETIC = 48


def quantize_encoder(model_dir: Path, crops: np.ndarray) -> Path:
    """Quantise ``model_dir``'s encoder.onnx, calibrated on (n, S, S, 3) uint8 ``crops``.

    Returns:
        The path of the written encoder_int8.onnx.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = model_dir / ENCODER_FILE
    model = onnx.load(str(source))
    props = read_metadata(model)
    mean, std = (np.asarray(_floats(props[key]), np.float32) for key in ("mean", "std"))
    images = normalize(crops, mean, std)

    class Reader(CalibrationDataReader):
        """One normalised crop per calibration step."""

        def __init__(self) -> None:
            self.next = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.next >= len(images):
                return None
            self.next += 1
            return {"image": images[self.next - 1 : self.next]}

    target = model_dir / INT8_ENCODER
    with tempfile.TemporaryDirectory(prefix="affect_quantize_") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=rgb_convs(onnx.load(str(prepared))),
        )
    quantized = onnx.load(str(target))
    write_metadata(quantized, props)
    onnx.save(quantized, str(target))
    return target


def rgb_convs(model: onnx.ModelProto) -> list[str]:
    """The convolutions over the 3 colour channels (the stem): they stay float32. With three
    input channels an 8-bit convolution fills too few lanes to pay: measured here, the
    MobileNetV4 stem took 170 µs in INT8 against 73 µs in FP32 (batch 1, 128²)."""
    weights = {w.name: tuple(w.dims) for w in model.graph.initializer}
    return [
        node.name
        for node in model.graph.node
        if node.op_type == "Conv"
        and len(weights.get(node.input[1], ())) == 4
        and weights[node.input[1]][1] == 3
    ]


def _floats(text: str) -> list[float]:
    return [float(v) for v in json.loads(text)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``quantize`` options."""
    parser.add_argument(
        "--model-dir",
        type=Path,
        required=True,
        help=f"model folder with {ENCODER_FILE} and {MODEL_JSON}; "
        f"{INT8_ENCODER} is written into it",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        default=DEFAULT_SYNTHETIC,
        help="synthetic calibration crops (default %(default)s)",
    )
    parser.add_argument(
        "--no-real", action="store_true", help="leave out the real check-set crops"
    )


def run(args: argparse.Namespace) -> int:
    """Calibrate and write the INT8 encoder; 1 when the folder is not a model folder."""
    from affect_perception.model.calibration import calibration_crops

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (args.model_dir / ENCODER_FILE).is_file() or args.synthetic < 1:
        print(
            f"affect-perception quantize: {args.model_dir} has no {ENCODER_FILE}, or "
            f"--synthetic < 1",
            file=sys.stderr,
        )
        return 1
    props = read_metadata(onnx.load(str(args.model_dir / ENCODER_FILE)))
    crops = calibration_crops(int(props["input_size"]), args.synthetic, real=not args.no_real)
    print(f"wrote {quantize_encoder(args.model_dir, crops)} ({len(crops)} calibration crops)")
    return 0
