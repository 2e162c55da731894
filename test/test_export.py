"""ONNX export: the model-file contract, onnxruntime parity with torch, FP16 copies, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from affect_perception import provenance
from affect_perception.cli import main
from affect_perception.labels import AU_NAMES, EMI_NAMES, TASK_DIMS, TASKS
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.checkpoint import save_checkpoint
from affect_perception.model.config import ModelConfig
from affect_perception.model.export import export_onnx, model_id
from affect_perception.model_files import METADATA_KEYS

torch.set_num_threads(1)

SEED = 3
WINDOW = 8
# timm's data config of mobilenetv4_conv_small: ImageNet statistics.
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max(1, peak |want|): absolute for outputs within [-1, 1]."""
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module", params=["single", "two", "three"])
def exported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """(variant, directory) written by ``export --random-init --variant V --window 8``."""
    out = tmp_path_factory.mktemp(request.param)
    argv = [
        "export",
        "--random-init",
        "--variant",
        request.param,
        "--window",
        str(WINDOW),
        "--seed",
        str(SEED),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    return request.param, out


def test_cli_writes_the_model_files(exported: tuple[str, Path]) -> None:
    _, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["encoder.onnx", "model.json", "temporal.onnx"]


def test_graphs_follow_the_contract(exported: tuple[str, Path]) -> None:
    variant, out = exported
    model = AffectModel(ModelConfig(variant=variant, window=WINDOW))
    for name in ("encoder.onnx", "temporal.onnx"):
        proto = onnx.load(str(out / name))
        onnx.checker.check_model(proto, full_check=True)
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    encoder, temporal = session(out / "encoder.onnx"), session(out / "temporal.onnx")
    assert [(i.name, i.shape, i.type) for i in encoder.get_inputs()] == [
        ("image", ["N", 3, 224, 224], "tensor(float)")
    ]
    maps = [(n, ["N", *s]) for n, s in model.feature_shapes.items()]
    assert [(o.name, o.shape) for o in encoder.get_outputs()] == maps
    assert [(i.name, i.shape) for i in temporal.get_inputs()] == [
        (n, ["N", WINDOW, *s]) for n, s in model.feature_shapes.items()
    ]
    assert [(o.name, o.shape) for o in temporal.get_outputs()] == [
        (t, ["N", TASK_DIMS[t]]) for t in TASKS
    ]


def test_metadata_and_model_json(exported: tuple[str, Path]) -> None:
    variant, out = exported
    props = metadata(out / "encoder.onnx")
    assert props == metadata(out / "temporal.onnx")
    assert set(props) == set(METADATA_KEYS)
    parsed = {k: v if k in ("model_id", "variant") else json.loads(v) for k, v in props.items()}
    expected_maps = {
        "single": ["feat_7"],
        "two": ["feat_14", "feat_7"],
        "three": ["feat_28", "feat_14", "feat_7"],
    }[variant]
    assert parsed == {
        **parsed,
        "variant": variant,
        "window": WINDOW,
        "time_patch": 4,
        "tasks": list(TASKS),
        "au_names": list(AU_NAMES),
        "emi_names": list(EMI_NAMES),
        "feature_names": expected_maps,
        "input_size": 224,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }
    model_json = json.loads((out / "model.json").read_text())
    assert model_json == {
        **parsed,
        "config": ModelConfig(variant=variant, window=WINDOW).to_dict(),
        "provenance": provenance.uniform(provenance.UNTRAINED),
    }


def test_onnxruntime_matches_torch(exported: tuple[str, Path]) -> None:
    """Three faces (the export traced one), random crops and windows of encoded frames."""
    variant, out = exported
    torch.manual_seed(SEED)  # the CLI's --seed: the same weights, as the model_id proves
    model = AffectModel(ModelConfig(variant=variant, window=WINDOW)).eval()
    assert metadata(out / "encoder.onnx")["model_id"] == model_id(model)
    generator = torch.Generator().manual_seed(7)
    frames = torch.randn(3 * WINDOW, 3, 224, 224, generator=generator)
    with torch.no_grad():
        maps = model.encode(frames)
        windows = {n: m.unflatten(0, (3, WINDOW)) for n, m in maps.items()}
        outputs = model.temporal(windows)
    got_maps = session(out / "encoder.onnx").run(None, {"image": frames[:3].numpy()})
    for name, got in zip(model.feature_names, got_maps, strict=True):
        assert relative_error(got, maps[name][:3].numpy()) < 1e-4
    got_outputs = session(out / "temporal.onnx").run(
        None, {n: w.numpy() for n, w in windows.items()}
    )
    for task, got in zip(TASKS, got_outputs, strict=True):
        want = torch.sigmoid(outputs[task]) if task in ("au", "ah") else outputs[task]
        assert np.abs(got - want.numpy()).max() < 1e-4


def test_onnxruntime_chain_gives_outputs_in_range(exported: tuple[str, Path]) -> None:
    """Uint8 crops normalised with the metadata, encoded, windowed and aggregated in ORT."""
    _, out = exported
    props = metadata(out / "encoder.onnx")
    mean, std = (
        np.array(json.loads(props[k]), np.float32)[:, None, None] for k in ("mean", "std")
    )
    crops = np.random.default_rng(0).integers(0, 256, (2 * WINDOW, 3, 224, 224), np.uint8)
    images = ((crops / np.float32(255) - mean) / std).astype(np.float32)
    names = json.loads(props["feature_names"])
    maps = session(out / "encoder.onnx").run(names, {"image": images})
    windows = {n: m.reshape(2, WINDOW, *m.shape[1:]) for n, m in zip(names, maps, strict=True)}
    outputs = dict(
        zip(TASKS, session(out / "temporal.onnx").run(list(TASKS), windows), strict=True)
    )
    assert outputs["va"].shape == (2, 2) and np.abs(outputs["va"]).max() <= 1
    for task in ("au", "emi", "ah"):
        assert outputs[task].shape == (2, TASK_DIMS[task])
        assert 0 <= outputs[task].min() and outputs[task].max() <= 1


def test_fp16_copy_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = AffectModel(ModelConfig(variant="two", window=4))  # left in training mode
    export_onnx(model, tmp_path, fp16=True)
    assert model.training
    assert {"encoder_fp16.onnx", "temporal_fp16.onnx"} <= {p.name for p in tmp_path.iterdir()}
    assert metadata(tmp_path / "encoder_fp16.onnx") == metadata(tmp_path / "encoder.onnx")
    model.eval()
    frames = torch.randn(2 * 4, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        maps = model.encode(frames)
        windows = {n: m.unflatten(0, (2, 4)).numpy() for n, m in maps.items()}
        outputs = model.temporal({n: torch.from_numpy(w) for n, w in windows.items()})
    got_maps = session(tmp_path / "encoder_fp16.onnx").run(None, {"image": frames[:2].numpy()})
    for name, got in zip(model.feature_names, got_maps, strict=True):
        assert got.dtype == np.float32
        assert relative_error(got, maps[name][:2].numpy()) < 1e-2
    got_outputs = session(tmp_path / "temporal_fp16.onnx").run(None, windows)
    for task, got in zip(TASKS, got_outputs, strict=True):
        want = torch.sigmoid(outputs[task]) if task in ("au", "ah") else outputs[task]
        assert got.dtype == np.float32 and np.abs(got - want.numpy()).max() < 1e-2


def test_cli_exports_a_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = AffectModel(ModelConfig(window=4, tasks=("va", "emi")))
    save_checkpoint(model, tmp_path / "ckpt")
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(tmp_path / "ckpt"),
                "--out",
                str(tmp_path / "onnx"),
                "--taught-on",
                "synthetic only",
            ]
        )
        == 0
    )
    model_json = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert model_json["model_id"] == model_id(model)
    assert model_json["config"] == model.config.to_dict()
    assert model_json["provenance"] == {
        "va": {"valence": "synthetic only", "arousal": "synthetic only"},
        "emi": dict.fromkeys(EMI_NAMES, "synthetic only"),
    }
    temporal = session(tmp_path / "onnx" / "temporal.onnx")
    assert [o.name for o in temporal.get_outputs()] == ["va", "emi"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--checkpoint", "ckpt", "--variant", "two"], "--variant come from the checkpoint"),
        (["--random-init", "--window", "6"], "window 6 is not a multiple of time_patch 4"),
        (["--checkpoint", "missing.txt"], "missing.txt is not a checkpoint"),
        (["--random-init", "--taught-on", "real labels"], "a random-init model is untrained"),
    ],
)
def test_cli_reports_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert main(["export", *argv, "--out", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
