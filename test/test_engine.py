"""The onnxruntime engine: provider fallback, metadata checks, clear load errors, outputs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.runtime.engine import AffectEngine, EngineConfig, ModelLoadError


@pytest.fixture(scope="module")
def engine(random_model_dir: Path) -> AffectEngine:
    return AffectEngine(EngineConfig(model_dir=random_model_dir, intra_op_threads=1))


@pytest.fixture(scope="module")
def window4_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second untrained model whose window (4) differs from random_model_dir's (8)."""
    from affect_perception.model.affect_model import AffectModel
    from affect_perception.model.config import ModelConfig
    from affect_perception.model.export import export_onnx

    out = tmp_path_factory.mktemp("window4_model")
    export_onnx(AffectModel(ModelConfig(variant="single", window=4)).eval(), out)
    return out


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_providers_fall_back_to_cpu_with_a_warning(
    random_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        engine = AffectEngine(
            EngineConfig(
                model_dir=random_model_dir,
                warmup=False,
                providers=("TensorrtExecutionProvider", "CUDAExecutionProvider"),
            )
        )
    assert engine.active_provider == "CPUExecutionProvider"
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "TensorrtExecutionProvider" in warned and "CUDAExecutionProvider" in warned


def test_default_providers_fall_back_without_a_warning(
    random_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        engine = AffectEngine(EngineConfig(model_dir=random_model_dir, warmup=False))
    assert engine.active_provider == "CPUExecutionProvider"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "TensorrtExecutionProvider" in caplog.text  # still said, at INFO


def test_outputs_have_the_model_shapes_and_ranges(engine: AffectEngine) -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    features = engine.encode(crops)
    assert engine.folded and list(engine.info.feature_names) == ["feat_7"]
    # with the fold the cache holds T·dim partial patch embeddings per 7×7 map
    assert list(features) == list(engine.cache_names) == ["feat_7_embed"]
    assert features["feat_7_embed"].shape == (3, 4 * 256, 7, 7)
    cache = engine.windows(max_tracks=3, max_gap=0)
    cache.push(["a", "b", "c"], features)
    out = engine.temporal(cache.gather(["a", "b", "c"]))
    assert out["va"].shape == (3, 2) and np.all(np.abs(out["va"]) <= 1)
    assert out["au"].shape == (3, len(AU_NAMES)) and out["emi"].shape == (3, len(EMI_NAMES))
    for key in ("au", "emi", "ah"):
        assert np.all((out[key] >= 0) & (out[key] <= 1)), key
    assert all(np.isfinite(v).all() for v in out.values())


def test_zero_faces_give_empty_outputs(engine: AffectEngine) -> None:
    features = engine.encode(np.zeros((0, 224, 224, 3), np.uint8))
    assert features["feat_7_embed"].shape == (0, 4 * 256, 7, 7)
    out = engine.temporal(engine.windows(max_tracks=1, max_gap=0).gather([]))
    assert {k: v.shape for k, v in out.items()} == {
        "va": (0, 2),
        "au": (0, 12),
        "emi": (0, 6),
        "ah": (0, 1),
    }


def test_reads_the_preprocessing_contract_from_metadata(engine: AffectEngine) -> None:
    info = engine.info
    assert info.input_size == 224 and info.window == 8 and info.variant == "single"
    assert info.mean == pytest.approx((0.485, 0.456, 0.406))
    assert info.tasks == ("va", "au", "emi", "ah")


def test_missing_folder_and_file(tmp_path: Path, random_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        AffectEngine(EngineConfig(model_dir=tmp_path / "nowhere"))
    model = copy_model(random_model_dir, tmp_path / "m")
    (model / "temporal.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"temporal\.onnx does not exist"):
        AffectEngine(EngineConfig(model_dir=model))


def test_corrupt_file_names_the_file(tmp_path: Path, random_model_dir: Path) -> None:
    model = copy_model(random_model_dir, tmp_path / "m")
    data = (model / "encoder.onnx").read_bytes()
    (model / "encoder.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match=r"encoder\.onnx cannot be loaded"):
        AffectEngine(EngineConfig(model_dir=model))


def test_files_from_different_models_are_rejected(
    tmp_path: Path, random_model_dir: Path, window4_model_dir: Path
) -> None:
    model = copy_model(random_model_dir, tmp_path / "m")
    shutil.copy(window4_model_dir / "temporal.onnx", model / "temporal.onnx")
    with pytest.raises(ModelLoadError, match="come from different models"):
        AffectEngine(EngineConfig(model_dir=model))


def test_missing_metadata_key_is_named(tmp_path: Path, random_model_dir: Path) -> None:
    model = copy_model(random_model_dir, tmp_path / "m")
    proto = onnx.load(model / "encoder.onnx")
    kept = [p for p in proto.metadata_props if p.key != "std"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    onnx.save(proto, model / "encoder.onnx")
    with pytest.raises(ModelLoadError, match=r"lacks \['std'\]"):
        AffectEngine(EngineConfig(model_dir=model))
