"""Checkpoints: safetensors + config.json round trips, weights-only .pt, clear errors."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from affect_perception.model.affect_model import AffectModel
from affect_perception.model.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from affect_perception.model.config import ModelConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> AffectModel:
    torch.manual_seed(0)
    return AffectModel(ModelConfig(window=4, tasks=("va", "au"))).eval()


@pytest.fixture(scope="module")
def checkpoint(model: AffectModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "run1")


def assert_same(model: AffectModel, loaded: AffectModel) -> None:
    """Same config, same tensors, same outputs."""
    assert loaded.config == model.config
    want = model.state_dict()
    assert all(torch.equal(v, want[k]) for k, v in loaded.state_dict().items())
    windows = {n: torch.randn(1, 4, *s) for n, s in model.feature_shapes.items()}
    with torch.no_grad():
        a, b = model.temporal(windows), loaded.eval().temporal(windows)
    assert all(torch.equal(a[t], b[t]) for t in ("va", "au"))


def test_directory_round_trip(model: AffectModel, checkpoint: Path) -> None:
    assert sorted(p.name for p in checkpoint.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    assert_same(model, load_checkpoint(checkpoint))
    assert_same(model, load_checkpoint(checkpoint / WEIGHTS_FILE))  # the file, config beside it


def test_torch_file_round_trip(model: AffectModel, tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save({"config": model.config.to_dict(), "state_dict": model.state_dict()}, path)
    assert_same(model, load_checkpoint(path))


def test_local_backbone_file_is_not_needed_after_saving(
    model: AffectModel, tmp_path: Path
) -> None:
    path = tmp_path / "last.pt"
    config = {**model.config.to_dict(), "backbone_weights": str(tmp_path / "gone.safetensors")}
    torch.save({"config": config, "state_dict": model.state_dict()}, path)
    assert load_checkpoint(path).config.backbone_weights is None


class Payload:
    """Any object a weights-only unpickler must refuse."""


def copy_checkpoint(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


# Each damage function spoils a copy of a good checkpoint directory and returns
# (the path to load, the file the error must name).
Damage = tuple[Path, Path]


def edit_config(ckpt: Path, text: str) -> Damage:
    (ckpt / CONFIG_FILE).write_text(text)
    return ckpt, ckpt / CONFIG_FILE


def truncated_safetensors(ckpt: Path) -> Damage:
    weights = ckpt / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    return ckpt, weights


def config_not_json(ckpt: Path) -> Damage:
    return edit_config(ckpt, "{variant: single")


def config_with_unknown_key(ckpt: Path) -> Damage:
    return edit_config(ckpt, '{"windw": 8}')


def config_with_bad_window(ckpt: Path) -> Damage:
    return edit_config(ckpt, '{"window": 6}')


def config_of_another_variant(ckpt: Path) -> Damage:
    edit_config(
        ckpt, json.dumps({**json.loads((ckpt / CONFIG_FILE).read_text()), "variant": "two"})
    )
    return ckpt, ckpt


def config_missing(ckpt: Path) -> Damage:
    (ckpt / CONFIG_FILE).unlink()
    return ckpt, ckpt / CONFIG_FILE


def text_file(ckpt: Path) -> Damage:
    (ckpt / "notes.txt").write_text("hello")
    return ckpt / "notes.txt", ckpt / "notes.txt"


def text_named_safetensors(ckpt: Path) -> Damage:
    (ckpt / WEIGHTS_FILE).write_text("hello")
    return ckpt, ckpt / WEIGHTS_FILE


def pt_holding_any_object(ckpt: Path) -> Damage:
    torch.save({"config": {}, "state_dict": {}, "x": Payload()}, ckpt / "x.pt")
    return ckpt / "x.pt", ckpt / "x.pt"


def pt_of_another_layout(ckpt: Path) -> Damage:
    torch.save({"weights": {}}, ckpt / "x.pt")
    return ckpt / "x.pt", ckpt / "x.pt"


# (damage, what the error must say)
BAD_CHECKPOINTS = [
    (truncated_safetensors, "not a valid safetensors file"),
    (config_not_json, "not a readable JSON file"),
    (config_with_unknown_key, "not a valid model config: unknown model config keys"),
    (config_with_bad_window, "window 6 is not a multiple of time_patch 4"),
    (config_of_another_variant, "weights do not fit the model its config describes"),
    (config_missing, "is missing"),
    (text_file, "is not a checkpoint: expected a directory holding config.json"),
    (text_named_safetensors, "not a valid safetensors file"),
    (pt_holding_any_object, r"cannot be read with torch.load\(weights_only=True\)"),
    (pt_of_another_layout, "must hold a dict with 'config' and 'state_dict'"),
]


@pytest.mark.parametrize(
    ("damage", "message"), BAD_CHECKPOINTS, ids=[damage.__name__ for damage, _ in BAD_CHECKPOINTS]
)
def test_bad_checkpoints_raise_a_clear_error(
    checkpoint: Path, tmp_path: Path, damage: Callable[[Path], Damage], message: str
) -> None:
    target, named = damage(copy_checkpoint(checkpoint, tmp_path / "ckpt"))
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(target)
    assert str(named) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_state_dict_with_non_tensors_is_rejected(model: AffectModel, tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    torch.save({"config": model.config.to_dict(), "state_dict": OrderedDict(a=1)}, path)
    with pytest.raises(CheckpointError, match="must map parameter names to tensors"):
        load_checkpoint(path)
