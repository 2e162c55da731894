"""`affect-perception import-weights`: the paper code's layout (built here, random weights) and
timm MobileNetV4 checkpoints become this project's files with equal outputs; bad checkpoints
end in one line and exit 2, and a pickle that would run code is refused without running."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from paper_layout import BACKBONE, MIXERS, PaperLayoutModel, lightning_checkpoint, randomise
from test_cli import one_line_error

from affect_perception import cli
from affect_perception.labels import AU_NAMES
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig
from affect_perception.model.imports.paper import paper_to_affect_model, read_paper_model
from affect_perception.model.imports.reading import read_weight_file
from affect_perception.runtime.engine import AffectEngine, EngineConfig

# Largest |difference| allowed between the paper layout's outputs and the imported model's.
TOLERANCE = 1e-5
# Between torch and the exported ONNX graphs run by the runtime (export's own bound).
ONNX_TOLERANCE = 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """The machine is shared: one torch thread keeps each forward predictable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def clip(window: int, seed: int = 1) -> torch.Tensor:
    """A normalised random window of face crops, (1, W, 3, 224, 224)."""
    return torch.randn(1, window, 3, 224, 224, generator=torch.Generator().manual_seed(seed))


def save_paper(
    path: Path, task: str, window: int, n_mixer: int, lightning: bool = True
) -> PaperLayoutModel:
    """A random paper-layout model saved as a Lightning checkpoint (or a bare state dict)."""
    model = randomise(PaperLayoutModel(task, window, n_mixer), seed=n_mixer + window)
    torch.save(lightning_checkpoint(model, n_mixer) if lightning else model.state_dict(), path)
    return model


@pytest.fixture(scope="module")
def paper_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PaperLayoutModel]:
    """A small paper checkpoint (AU, one mixer, window 8: two time patches, so the token
    order matters) that the error cases alter."""
    path = tmp_path_factory.mktemp("paper") / "au.ckpt"
    return path, save_paper(path, "AU", 8, 1)


# Every variant their code builds: n_mixer 1..3, tasks VA and AU, any window divisible by 4;
# one checkpoint is a bare state dict, without the hyper-parameters.
@pytest.mark.parametrize(
    ("task", "window", "n_mixer", "lightning", "variant"),
    [
        ("AU", 4, 1, True, "single"),
        ("VA", 4, 2, False, "two"),
        ("VA", 8, 3, True, "three"),
        ("AU", 4, 3, True, "three"),
    ],
)
def test_paper_layout_imports_with_equal_outputs(
    tmp_path: Path, task: str, window: int, n_mixer: int, lightning: bool, variant: str
) -> None:
    path = tmp_path / "paper.ckpt"
    theirs = save_paper(path, task, window, n_mixer, lightning)
    paper = read_paper_model(read_weight_file(path))
    ours = paper_to_affect_model(read_weight_file(path), paper)
    head = {"VA": "va", "AU": "au"}[task]
    assert (paper.task, paper.config.variant, paper.config.window) == (task, variant, window)
    assert paper.config.tasks == (head,) and paper.config.mixer_out_dim == 256
    frames = clip(window)
    with torch.no_grad():
        want, got = theirs(frames), ours(frames)[head]
    assert want.abs().max() > 0.05  # the outputs carry signal, not a constant
    assert (want - got).abs().max().item() <= TOLERANCE


def test_each_mixer_equals_theirs_and_token_order_matters(tmp_path: Path) -> None:
    # whole-model outputs hide the token MLP behind the residual and the mean; one mixer on
    # unit-scale windows shows it: equal with the (h w t) -> (t h w) permutation, not without
    from affect_perception.model.imports import paper as paper_module

    path = tmp_path / "paper.pt"
    theirs = save_paper(path, "VA", 8, 3, lightning=False)
    weights = read_weight_file(path)
    paper = read_paper_model(weights)
    ours = paper_to_affect_model(weights, paper)
    original = paper_module.token_permutation
    try:
        paper_module.token_permutation = lambda frames, side: torch.arange(side * side * frames)
        unpermuted = paper_to_affect_model(weights, paper)
    finally:
        paper_module.token_permutation = original
    generator = torch.Generator().manual_seed(4)
    for (name, side, channels, _), feature in zip(MIXERS, ours.feature_names, strict=True):
        window = torch.randn(2, 8, channels, side, side, generator=generator)
        with torch.no_grad():
            want = getattr(theirs, name)(window)
            assert (want - ours.tam.mixers[feature](window)).abs().max() <= TOLERANCE, name
            assert (want - unpermuted.tam.mixers[feature](window)).abs().max() > 1e-2, name


def runtime_outputs(folder: Path, crops: np.ndarray) -> dict[str, np.ndarray]:
    """The runtime's engine on one window of uint8 RGB crops (W, S, S, 3), oldest first."""
    engine = AffectEngine(
        EngineConfig(folder, providers=("CPUExecutionProvider",), intra_op_threads=1, warmup=False)
    )
    cache = engine.windows(max_tracks=1, max_gap=0)
    for crop in crops:
        cache.push(["face"], engine.encode(crop[None]))
    return engine.temporal(cache.gather(["face"]))


def normalised(crops: np.ndarray) -> torch.Tensor:
    """Crops as the paper's code feeds them: ImageNet mean/std, (1, W, 3, S, S)."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    images = ((crops / 255.0 - mean) / std).astype(np.float32)
    return torch.from_numpy(images).permute(0, 3, 1, 2)[None]


def test_cli_writes_a_model_folder_with_provenance(
    tmp_path: Path, paper_file: tuple[Path, PaperLayoutModel], capsys: pytest.CaptureFixture[str]
) -> None:
    path, theirs = paper_file
    out = tmp_path / "imported"
    assert cli.main(["import-weights", str(path), "--out", str(out)]) == 0
    assert "heads not present: va, emi, ah" in capsys.readouterr().out
    info = json.loads((out / "model.json").read_text())
    digest = read_weight_file(path).sha256
    record = info["imported_from"]
    assert record["source"] == f"imported from {digest}, format paper"
    assert info["tasks"] == ["au"] and record["absent_heads"] == ["va", "emi", "ah"]
    assert record["taught_on"].startswith("unknown to us: the checkpoint says task AU")
    # the shape every model folder's provenance has: the model's tasks, each output unknown
    assert info["provenance"] == {"au": dict.fromkeys(AU_NAMES, "unknown")}
    assert "Outputs absent" in (out / "MODEL_CARD.md").read_text()
    crops = np.random.default_rng(2).integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    frames = normalised(crops)
    with torch.no_grad():
        want = torch.sigmoid(theirs(frames)).numpy()
    assert np.abs(runtime_outputs(out, crops)["au"] - want).max() <= ONNX_TOLERANCE
    # the folder is also a checkpoint of this project
    from affect_perception.model.checkpoint import load_checkpoint

    with torch.no_grad():
        again = load_checkpoint(out).eval()(frames)["au"]
    assert (torch.sigmoid(again) - torch.from_numpy(want)).abs().max().item() <= TOLERANCE


def timm_model(seed: int) -> torch.nn.Module:
    """A full timm mobilenetv4_conv_small with random weights and statistics."""
    torch.manual_seed(seed)
    return randomise(timm.create_model(BACKBONE, pretrained=False), seed)


def project_backbone(weights: Path) -> torch.nn.Module:
    """This project's backbone loading ``weights`` as ``ModelConfig.backbone_weights`` does."""
    return AffectModel(ModelConfig(window=4, backbone_weights=str(weights))).backbone.eval()


@pytest.mark.parametrize("no_ema", [False, True])
def test_timm_train_checkpoint_becomes_backbone_weights(tmp_path: Path, no_ema: bool) -> None:
    raw, ema = timm_model(1), timm_model(2)
    args = argparse.Namespace(
        model=BACKBONE, img_size=112, data="affectnet/", mean=None, decay_milestones=[90, 180]
    )
    path = tmp_path / "model_best.pth.tar"
    torch.save(
        {
            "epoch": 7,
            "arch": BACKBONE,
            "state_dict": raw.state_dict(),
            "state_dict_ema": ema.state_dict(),
            "optimizer": {"state": {}, "param_groups": []},
            "version": 2,
            "args": args,
            "metric": 61.2,
        },
        path,
    )
    out = tmp_path / "out"
    argv = ["import-weights", str(path), "--out", str(out)] + (["--no-ema"] if no_ema else [])
    assert cli.main(argv) == 0
    record = json.loads((out / "backbone.json").read_text())
    assert record["source"] == f"imported from {read_weight_file(path).sha256}, format timm"
    assert record["state_key"] == ("state_dict" if no_ema else "state_dict_ema")
    assert record["trained_input_size"] == 112
    assert record["args"]["decay_milestones"] == [90, 180] and record["args"]["mean"] is None
    assert "classifier.weight" in record["dropped_head"]
    chosen = raw if no_ema else ema
    image = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = chosen.forward_features(image)
        got = project_backbone(out / "backbone.safetensors")(image)["feat_7"]
    assert (want - got).abs().max().item() <= TOLERANCE


def test_timm_plain_state_dict_from_ddp(tmp_path: Path) -> None:
    model = timm_model(4)
    path = tmp_path / "mnv4.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    assert cli.main(["import-weights", str(path), "--out", str(tmp_path / "out")]) == 0
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = model.forward_features(image)
        got = project_backbone(tmp_path / "out" / "backbone.safetensors")(image)["feat_7"]
    assert (want - got).abs().max().item() <= TOLERANCE


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def test_code_in_a_pickle_is_refused_without_running(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv_stem.weight": torch.zeros(1)}, "x": Payload(marker)}, path)
    line = one_line_error(capsys, ["import-weights", str(path), "--out", str(tmp_path / "o")])
    assert "refused without being run" in line and "system" in line
    assert not marker.exists()


def altered(paper_file: tuple[Path, PaperLayoutModel], tmp_path: Path, **changes) -> Path:
    """The paper checkpoint with keys replaced (a tensor) or removed (None)."""
    data = torch.load(paper_file[0], weights_only=True)
    for key, value in changes.pop("state", {}).items():
        if value is None:
            del data["state_dict"][key]
        else:
            data["state_dict"][key] = value
    data["hyper_parameters"].update(changes)
    path = tmp_path / "altered.ckpt"
    torch.save(data, path)
    return path


# (checkpoint change or extra arguments, what the one line must say)
@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        # a key of their layout is missing
        (
            {"state": {"last_mixer.4.weight": None}},
            [],
            "missing ['last_mixer.4.weight'] (1 in all)",
        ),
        # the backbone is not mobilenetv4_conv_small's
        (
            {"state": {"backbone.conv_stem.weight": torch.zeros(16, 3, 3, 3)}},
            [],
            "backbone.conv_stem.weight (16, 3, 3, 3) (want (32, 3, 3, 3))",
        ),
        # the patch embedding does not fit the 960-channel map
        (
            {"state": {"last_mixer.2.weight": torch.zeros(256, 1000)}},
            [],
            "'last_mixer.2.weight' has shape (256, 1000)",
        ),
        # a window other than the one the tensors were built for
        ({}, ["--window", "16"], "--window is 16 but the mixers' token counts give a window of 8"),
        ({"seq_len": 16}, [], "hyper_parameters seq_len is 16"),
        # an input size whose maps the mixers' tokens do not tile
        ({}, ["--input-size", "160"], "--input-size it was trained at"),
        ({}, ["--input-size", "100"], "input size 100 is not a positive multiple of 32"),
        # the hyper-parameters name more mixers than the tensors hold
        ({"n_mixer": 3}, [], "hyper_parameters say n_mixer 3 but the checkpoint holds the mixers"),
        # a task this project has no head for
        (
            {
                "state": {
                    "classifier.weight": torch.zeros(8, 256),
                    "classifier.bias": torch.zeros(8),
                },
                "task": "EXPR",
            },
            [],
            "no expression head",
        ),
        # named as the other format
        ({}, ["--format", "timm"], "not a timm mobilenetv4_conv_small state dict"),
    ],
)
def test_bad_paper_checkpoints_end_in_one_line(
    tmp_path: Path,
    paper_file: tuple[Path, PaperLayoutModel],
    capsys,
    change: dict,
    extra: list[str],
    message: str,
) -> None:
    path = altered(paper_file, tmp_path, **change) if change else paper_file[0]
    line = one_line_error(
        capsys, ["import-weights", str(path), "--out", str(tmp_path / "o"), *extra]
    )
    assert message in line


def test_other_inputs_end_in_one_line(tmp_path: Path, capsys) -> None:
    unknown = tmp_path / "unknown.pt"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, unknown)
    line = one_line_error(capsys, ["import-weights", str(unknown), "--out", str(tmp_path)])
    assert "cannot tell the format" in line
    line = one_line_error(
        capsys, ["import-weights", str(unknown), "--out", str(tmp_path), "--format", "paper"]
    )
    assert "missing key 'last_mixer.2.weight'" in line
    line = one_line_error(
        capsys, ["import-weights", str(unknown), "--out", str(tmp_path), "--format", "onnx"]
    )
    assert "unknown format 'onnx': choose one of ['paper', 'timm']" in line
    other = tmp_path / "other.pth.tar"
    torch.save(
        {
            "state_dict": {"conv_stem.weight": torch.zeros(1)},
            "args": argparse.Namespace(model="resnet50"),
        },
        other,
    )
    line = one_line_error(capsys, ["import-weights", str(other), "--out", str(tmp_path)])
    assert "timm model 'resnet50'" in line
    line = one_line_error(
        capsys, ["import-weights", str(other), "--out", str(tmp_path), "--window", "8"]
    )
    assert "leave them out" in line
    line = one_line_error(
        capsys, ["import-weights", str(tmp_path / "gone.pt"), "--out", str(tmp_path)]
    )
    assert "does not exist" in line
    (tmp_path / "text.pt").write_text("not a checkpoint")
    line = one_line_error(
        capsys, ["import-weights", str(tmp_path / "text.pt"), "--out", str(tmp_path)]
    )
    assert "not a readable torch checkpoint" in line
