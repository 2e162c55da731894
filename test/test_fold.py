"""The folded patch embedding (runtime/fold.py) against the files as exported: the same
outputs within 1e-4 for every variant, through the window cache as the node streams, and for
the bundled demo folder, which has only the ONNX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from affect_perception.resources import bundled_model_dir
from affect_perception.runtime.alignment import normalize
from affect_perception.runtime.engine import AffectEngine, EngineConfig
from affect_perception.runtime.fold import fold

# Largest |folded - unfused| of any task output (all within [-1, 1]).
TOLERANCE = 1e-4
# Largest |8-bit - float| partial embedding, relative to the largest float one.
INT8_TOLERANCE = 0.03
FRAMES = 14  # more than a window: cold, warm and sliding windows all occur


def export(out: Path, **config: object) -> Path:
    import torch

    from affect_perception.model.affect_model import AffectModel
    from affect_perception.model.config import ModelConfig
    from affect_perception.model.export import export_onnx

    torch.manual_seed(3)
    export_onnx(AffectModel(ModelConfig(**config)).eval(), out)
    return out


@pytest.fixture(scope="module", params=["single", "two", "three"])
def variant_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained model of each variant (128-pixel input keeps the export short)."""
    return export(
        tmp_path_factory.mktemp(request.param), variant=request.param, window=8, input_size=128
    )


def engines(model_dir: Path) -> tuple[AffectEngine, AffectEngine]:
    """The folded engine and the one running the files as they are."""
    return tuple(
        AffectEngine(
            EngineConfig(model_dir=model_dir, intra_op_threads=1, fold=fold, warmup=False)
        )
        for fold in (True, False)
    )


def streamed(engine: AffectEngine, crops: np.ndarray, missed: set[int]) -> list[dict]:
    """Task outputs per frame of one face pushed through the window cache like the node."""
    cache = engine.windows(max_tracks=1, max_gap=2)
    outputs = []
    for i, crop in enumerate(crops):
        if i in missed:
            cache.mark_missed(["face"])
        else:
            cache.push(["face"], engine.encode(crop[None]))
        outputs.append(engine.temporal(cache.gather(["face"])))
    return outputs


def largest_difference(a: list[dict], b: list[dict]) -> float:
    return max(float(np.abs(x[k] - y[k]).max()) for x, y in zip(a, b, strict=True) for k in x)


def crops(engine: AffectEngine, seed: int = 0, count: int = FRAMES) -> np.ndarray:
    side = engine.info.input_size
    return np.random.default_rng(seed).integers(0, 256, (count, side, side, 3), np.uint8)


def test_folded_equals_unfused_for_every_variant(variant_dir: Path) -> None:
    folded, plain = engines(variant_dir)
    assert folded.folded and not plain.folded
    assert set(folded.cache_names) == {n + "_embed" for n in plain.cache_names}
    frames = crops(plain)
    got, want = streamed(folded, frames, {9}), streamed(plain, frames, {9})
    assert largest_difference(got, want) < TOLERANCE
    assert max(float(np.abs(v).max()) for v in want[-1].values()) > 0.01  # not all zeros


def test_folded_batch_of_faces(variant_dir: Path) -> None:
    """Three faces' windows in one temporal batch, each face with its own frames, the third
    face joining late (its window cold, left-padded)."""
    folded, plain = engines(variant_dir)
    window, side = plain.info.window, plain.info.input_size
    frames = crops(plain, seed=1, count=3 * window).reshape(window, 3, side, side, 3)

    def outputs(engine: AffectEngine) -> list[dict[str, np.ndarray]]:
        cache, got = engine.windows(max_tracks=3, max_gap=0), []
        for t, faces in enumerate(frames):
            ids = ["a", "b", "c"] if t >= window - 3 else ["a", "b"]
            cache.push(ids, engine.encode(faces[: len(ids)]))
            got.append(engine.temporal(cache.gather(ids)))
        return got

    assert largest_difference(outputs(folded), outputs(plain)) < TOLERANCE


def test_window_32_folds(tmp_path: Path) -> None:
    folded, plain = engines(export(tmp_path / "w32", variant="single", window=32, input_size=128))
    frames = crops(plain, count=40)
    assert (
        largest_difference(streamed(folded, frames, set()), streamed(plain, frames, set()))
        < TOLERANCE
    )


def test_the_bundled_model_folder_folds_from_its_onnx_files() -> None:
    model_dir = bundled_model_dir()
    assert not list(model_dir.glob("*.pt")) and not list(model_dir.glob("*.safetensors"))
    folded, plain = engines(model_dir)
    assert folded.folded
    frames = crops(plain)
    assert (
        largest_difference(streamed(folded, frames, {10, 11}), streamed(plain, frames, {10, 11}))
        < TOLERANCE
    )


def test_int8_embedding_is_the_float_one_within_8_bit_rounding(variant_dir: Path) -> None:
    """The INT8 engine's patch embedding (8-bit matrix products over the patches) against the
    float convolution, on every scale: a patch or channel laid out wrongly would differ by
    the embeddings' own size."""
    plain = engines(variant_dir)[1]
    pair = [onnx.load(str(variant_dir / f)) for f in ("encoder.onnx", "temporal.onnx")]
    names, window = plain.info.feature_names, plain.info.window
    images = normalize(crops(plain, count=2), plain.info.mean, plain.info.std)
    outputs = []
    for int8 in (False, True):
        encoder, _ = fold(*pair, names, window, int8=int8)
        ops = {node.op_type for node in encoder.graph.node}
        assert ("DynamicQuantizeMatMul" in ops) == int8
        session = ort.InferenceSession(
            encoder.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        outputs.append(session.run(None, {"image": images}))
    for want, got in zip(*outputs, strict=True):
        assert want.shape == got.shape
        assert np.abs(got - want).max() <= INT8_TOLERANCE * np.abs(want).max()
        assert not np.array_equal(got, want)
