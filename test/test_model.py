"""AffectModel: config validation, shapes, the streaming split, freezing and parameter counts."""

from __future__ import annotations

import json
from collections import deque

import pytest
import torch
from safetensors.torch import save_file

from affect_perception.labels import TASK_DIMS, TASKS
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig

torch.set_num_threads(1)

# The backbone's maps at 224 px: name -> (channels, side).
MAPS = {"feat_28": (64, 28), "feat_14": (96, 14), "feat_7": (960, 7)}
VARIANT_MAPS = {
    "single": ["feat_7"],
    "two": ["feat_14", "feat_7"],
    "three": ["feat_28", "feat_14", "feat_7"],
}


def random_windows(model: AffectModel, faces: int) -> dict[str, torch.Tensor]:
    """Random cached windows (faces, W, C, S, S) for every feature of ``model``."""
    return {
        n: torch.randn(faces, model.config.window, *shape)
        for n, shape in model.feature_shapes.items()
    }


def test_config_round_trips_through_json() -> None:
    config = ModelConfig(variant="two", window=12, tasks=("ah", "va"), cache_channels=64)
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.tasks == ("va", "ah")  # kept in labels.TASKS order


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window": 6}, "window 6 is not a multiple of time_patch 4: choose a window such as 8"),
        ({"window": 8, "time_patch": 3}, "window 8 is not a multiple of time_patch 3"),
        ({"variant": "four"}, "variant must be one of"),
        ({"tasks": ("va", "valence")}, "tasks must be a non-empty subset"),
        ({"tasks": ()}, "tasks must be a non-empty subset"),
        ({"spatial_patch": (2, 1)}, "spatial_patch must hold 3 positive sizes"),
        ({"depth": 0}, "depth must be a positive integer"),
        ({"cache_channels": 0}, "cache_channels must be None or a positive integer"),
    ],
)
def test_config_rejects_bad_values(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**fields)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"windw": 8}, r"unknown model config keys \['windw'\]"),  # a typo
        ({"window": "8"}, "invalid model config value"),  # a string for a number
        (["single"], "must be a JSON object"),  # not a mapping
    ],
)
def test_config_from_dict_rejects(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(data)


def test_spatial_patch_must_divide_the_map() -> None:
    with pytest.raises(ValueError, match="spatial patch 2 does not divide the 7×7 feature map"):
        AffectModel(ModelConfig(spatial_patch=(4, 2, 2)))


@pytest.mark.parametrize("variant", ["single", "two", "three"])
@pytest.mark.parametrize("window", [4, 8, 32])
def test_shapes_and_ranges(variant: str, window: int) -> None:
    model = AffectModel(ModelConfig(variant=variant, window=window)).eval()
    assert list(model.feature_names) == VARIANT_MAPS[variant]
    assert model.feature_shapes == {
        n: (MAPS[n][0], MAPS[n][1], MAPS[n][1]) for n in VARIANT_MAPS[variant]
    }
    with torch.no_grad():
        maps = model.encode(torch.randn(1, 3, 224, 224))
        out = model.temporal(random_windows(model, faces=2))
    assert {n: tuple(m.shape) for n, m in maps.items()} == {
        n: (1, *model.feature_shapes[n]) for n in VARIANT_MAPS[variant]
    }
    assert {t: tuple(o.shape) for t, o in out.items()} == {t: (2, TASK_DIMS[t]) for t in TASKS}
    assert out["va"].abs().max() <= 1 and 0 <= out["emi"].min() and out["emi"].max() <= 1
    assert all(torch.isfinite(o).all() for o in out.values())


def test_selected_tasks_only() -> None:
    model = AffectModel(ModelConfig(window=4, tasks=("au",))).eval()
    with torch.no_grad():
        out = model.temporal(random_windows(model, faces=1))
    assert list(out) == ["au"] and out["au"].shape == (1, 12)


@pytest.mark.parametrize(
    ("fields", "shapes"),
    [
        # the cache option narrows every map wider than cache_channels
        (
            {"variant": "three", "cache_channels": 80},
            {"feat_28": (64, 28, 28), "feat_14": (80, 14, 14), "feat_7": (80, 7, 7)},
        ),
        ({"variant": "single"}, {"feat_7": (960, 7, 7)}),
    ],
)
def test_cache_channels(fields: dict, shapes: dict) -> None:
    assert AffectModel(ModelConfig(window=4, **fields)).feature_shapes == shapes


@pytest.mark.parametrize(
    "fields",
    [
        {"variant": "three"},
        {"variant": "two", "cache_channels": 32},
    ],
)
def test_streaming_split_equals_whole_model(fields: dict) -> None:
    """Each frame encoded once into a rolling cache gives what forward() gives per window."""
    torch.manual_seed(0)
    model = AffectModel(ModelConfig(window=4, **fields)).eval()
    frames = torch.randn(2, 6, 3, 224, 224)  # 2 faces, 6 frames
    cache: deque[dict[str, torch.Tensor]] = deque(maxlen=model.config.window)
    worst = 0.0
    with torch.no_grad():
        for t in range(frames.shape[1]):
            cache.append(model.encode(frames[:, t]))
            if len(cache) < model.config.window:
                continue
            split = model.temporal(
                {n: torch.stack([c[n] for c in cache], dim=1) for n in model.feature_names}
            )
            whole = model(frames[:, t - model.config.window + 1 : t + 1])
            worst = max(worst, *((split[k] - whole[k]).abs().max().item() for k in whole))
    assert worst < 1e-5


def test_forward_rejects_a_clip_of_the_wrong_length() -> None:
    model = AffectModel(ModelConfig(window=4))
    with pytest.raises(ValueError, match=r"clip must be \(B, 4, 3, H, W\)"):
        model(torch.zeros(1, 8, 3, 224, 224))
    with pytest.raises(ValueError, match=r"features\['feat_7'\] must be \(B, \*\(4, 960, 7, 7\)"):
        model.temporal({"feat_7": torch.zeros(1, 8, 960, 7, 7)})


@pytest.mark.parametrize("freeze", [True, False])
def test_gradients_reach_only_unfrozen_parameters(freeze: bool) -> None:
    torch.manual_seed(0)
    model = AffectModel(ModelConfig(window=4, freeze_early_stages=freeze, head_dropout=0.0))
    trainable = {id(p) for p in model.trainable_parameters()}
    model.train()
    bn = model.backbone.body.bn1  # the stem's BatchNorm: frozen with the early stages
    stats = bn.running_mean.clone()
    out = model(torch.randn(2, 4, 3, 224, 224))
    sum(o.sum() for o in out.values()).backward()
    named = dict(model.named_parameters())
    got = {n for n, p in named.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == {n for n, p in named.items() if id(p) in trainable}
    last = model.backbone.last_stage
    early = {
        n
        for n in named
        if n.startswith("backbone.body.") and not n.startswith(f"backbone.body.{last}.")
    }
    assert early and (early.isdisjoint(got) if freeze else early <= got)
    assert any(n.startswith(f"backbone.body.{last}.") for n in got)
    assert torch.equal(bn.running_mean, stats) == freeze  # frozen BatchNorm stats stay fixed


def test_train_mode_keeps_every_frozen_batchnorm_in_eval() -> None:
    model = AffectModel(ModelConfig(window=4)).train()
    last = model.backbone.last_stage
    modes = {
        name: m.training
        for name, m in model.backbone.body.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    }
    frozen = {n: t for n, t in modes.items() if not n.startswith(f"{last}.")}
    trained = {n: t for n, t in modes.items() if n.startswith(f"{last}.")}
    assert frozen and not any(frozen.values())  # timm's BatchNormAct2d included
    assert trained and all(trained.values())
    assert model.heads.training and model.tam.training


# Parameter counts reported in docs/MODEL.md (encoder, temporal), W = 8.
@pytest.mark.parametrize(
    ("fields", "encoder", "temporal"),
    [
        ({"variant": "single"}, 1_261_664, 1_133_471),
        ({"variant": "two"}, 1_261_664, 1_677_097),
        ({"variant": "three"}, 1_261_664, 2_876_083),
        # with the authors' Linear(256, 256) after each mixer: their 2.46 M, 3.07 M and 4.34 M
        ({"variant": "single", "mixer_out_dim": 256}, 1_261_664, 1_199_263),
        ({"variant": "two", "mixer_out_dim": 256}, 1_261_664, 1_808_681),
        ({"variant": "three", "mixer_out_dim": 256}, 1_261_664, 3_073_459),
    ],
)
def test_parameter_counts(fields: dict, encoder: int, temporal: int) -> None:
    counts = AffectModel(ModelConfig(**fields)).parameter_counts()
    assert counts == {"encoder": encoder, "temporal": temporal}


def test_local_backbone_weights_are_loaded(tmp_path) -> None:
    torch.manual_seed(1)
    donor = AffectModel(ModelConfig(window=4)).backbone.body.state_dict()
    # a timm classifier file also holds head weights the features model does not use
    save_file(
        {**donor, "classifier.weight": torch.zeros(1000, 1280)}, str(tmp_path / "mnv4.safetensors")
    )
    torch.manual_seed(2)
    model = AffectModel(ModelConfig(window=4, backbone_weights=str(tmp_path / "mnv4.safetensors")))
    assert all(torch.equal(v, donor[k]) for k, v in model.backbone.body.state_dict().items())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"conv_stem.weight": torch.zeros(1)}, "do not fit this backbone"),  # another model's file
        (b"not safetensors", "cannot read backbone weights"),  # not a weights file
    ],
)
def test_bad_backbone_weights_are_rejected(tmp_path, content: object, message: str) -> None:
    path = tmp_path / "weights.safetensors"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        save_file(content, str(path))
    with pytest.raises(ValueError, match=message) as err:
        AffectModel(ModelConfig(window=4, backbone_weights=str(path)))
    assert str(path) in str(err.value)
