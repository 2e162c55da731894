"""The INT8 encoder (`quantize`) against FP32 on the bundled trained model: AU decisions and
valence/arousal agree on synthetic held-out clips; the engine runs it as `precision: int8`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from affect_perception.bench.precision import agreement, heldout_clips, predict
from affect_perception.model.calibration import calibration_crops
from affect_perception.model.quantize import INT8_ENCODER, quantize_encoder, rgb_convs
from affect_perception.resources import bundled_model_dir
from affect_perception.runtime.engine import AffectEngine, EngineConfig, ModelLoadError

VIDEOS = 8
CALIBRATION_SYNTHETIC = 16


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("int8") / "model"
    shutil.copytree(bundled_model_dir(), folder)
    crops = calibration_crops(128, CALIBRATION_SYNTHETIC)
    assert len(crops) > CALIBRATION_SYNTHETIC  # the check set's real crops are in
    quantize_encoder(folder, crops)
    return folder


def engine(folder: Path, precision: str) -> AffectEngine:
    return AffectEngine(
        EngineConfig(model_dir=folder, intra_op_threads=1, precision=precision, warmup=False)
    )


def test_int8_agrees_with_fp32_on_heldout_clips(int8_dir: Path) -> None:
    clips = heldout_clips(VIDEOS, 128)
    fp32, int8 = (predict(engine(int8_dir, p), clips) for p in ("fp32", "int8"))
    figures = agreement(int8, fp32)
    assert figures["au_agreement"] >= 0.98
    assert figures["va_ccc_vs_fp32"] >= 0.99
    assert not np.array_equal(int8["va"], fp32["va"])  # really another graph


def test_int8_file_is_quantised_and_keeps_the_metadata(int8_dir: Path) -> None:
    model = onnx.load(str(int8_dir / INT8_ENCODER))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    source = onnx.load(str(int8_dir / "encoder.onnx"))
    assert {p.key: p.value for p in model.metadata_props} == {
        p.key: p.value for p in source.metadata_props
    }
    assert engine(int8_dir, "int8").folded
    # the stem convolution over RGB stays float32: its weight is a float initializer
    floats = {w.name for w in model.graph.initializer if w.data_type == onnx.TensorProto.FLOAT}
    stems = rgb_convs(source)
    assert len(stems) == 1
    stem = next(n for n in model.graph.node if n.name == stems[0])
    assert stem.op_type == "Conv" and stem.input[1] in floats


def test_missing_int8_file_says_how_to_make_it() -> None:
    with pytest.raises(ModelLoadError, match="encoder_int8.onnx does not exist.*quantize"):
        engine(bundled_model_dir(), "int8")
    with pytest.raises(ModelLoadError, match="precision must be one of"):
        engine(bundled_model_dir(), "int4")
