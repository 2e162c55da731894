"""The paper code's layout (PRVSL/abaw-8th ``ABAWModel``) into an `AffectModel`.

Their model: a timm ``features_only`` MobileNetV4 (``backbone.*``), up to three 3D MLP-Mixers
(``mid_mixer`` 28×28, ``low_mixer`` 14×14, ``last_mixer`` 7×7 at 224 px; ``n_mixer`` 1..3 keeps
the coarsest ones) and one ``classifier`` Linear for one task (VA: 2 outputs through tanh, AU: 12
logits, EXPR: 8 classes). Each mixer is an ``nn.Sequential``: two parameter-free rearranges,
a Linear patch embedding over ``(p p pt C)``-flattened patches (index 2), ``depth`` blocks of
two pre-norm residuals (token MLP as kernel-1 Conv1d, channel MLP as Linear), a LayerNorm,
a mean and the output Linear. Their tokens run ``(h w t)``, ours ``(t h w)``: the token MLP's
input columns and output rows are permuted; everything else maps one to one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import timm
import torch

from affect_perception.labels import TASK_DIMS
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig
from affect_perception.model.imports.reading import WeightFile, WeightsImportError
from affect_perception.model.imports.timm_backbone import BACKBONE

# Their mixers, finest first, with the spatial patch their code hard-codes for each.
MIXERS: dict[str, int] = {"mid_mixer": 4, "low_mixer": 2, "last_mixer": 1}
# Stride of the backbone's coarsest map: input sizes are multiples of it.
COARSEST_STRIDE = 32
# Variant of this project for the number of mixers their model has (their ``n_mixer``).
VARIANTS = {1: "single", 2: "two", 3: "three"}
# Their ``task`` by the classifier's outputs, and the head it becomes here (None: no head).
TASKS_BY_OUTPUTS: dict[int, tuple[str, str | None]] = {
    TASK_DIMS["va"]: ("VA", "va"),
    TASK_DIMS["au"]: ("AU", "au"),
    8: ("EXPR", None),
}
# Their classifier's dropout, kept for further training (no effect on outputs).
HEAD_DROPOUT = 0.3
# Sub-keys of one block: (their PreNormResidual index, their module) -> our module.
BLOCK_KEYS = {
    ("0", "norm"): "norm1",
    ("1", "norm"): "norm2",
    ("1", "fn.0"): "mlp_channels.fc1",
    ("1", "fn.3"): "mlp_channels.fc2",
}


@dataclass(frozen=True)
class PaperModel:
    """What a paper checkpoint is, as read from its tensors (and hyper-parameters).

    Attributes:
        task: their task name (``VA`` or ``AU``).
        mixers: their mixer names present, finest first.
        config: the `ModelConfig` that reproduces it.
    """

    task: str
    mixers: tuple[str, ...]
    config: ModelConfig


def read_paper_model(
    weights: WeightFile, window: int | None = None, input_size: int = 224
) -> PaperModel:
    """Work out the architecture of a paper checkpoint and check it fits this project.

    Args:
        weights: the checkpoint's tensors.
        window: the window the caller expects (None: whatever the tensors say).
        input_size: side of the face crop the model was trained at (their code: 224).

    Raises:
        WeightsImportError: a missing key, a tensor of the wrong shape, a window or input
            size the tensors do not fit, or a task this project has no head for.
    """
    if input_size < COARSEST_STRIDE or input_size % COARSEST_STRIDE:
        raise WeightsImportError(
            f"input size {input_size} is not a positive multiple of {COARSEST_STRIDE} (the "
            f"backbone's coarsest stride); the paper's code trains at 224"
        )
    state = weights.state
    mixers = tuple(m for m in MIXERS if f"{m}.2.weight" in state)
    expected = tuple(MIXERS)[len(MIXERS) - max(len(mixers), 1) :]
    if mixers != expected:
        raise WeightsImportError(
            f"{weights.path}: mixers {list(mixers)} do not form the paper model "
            f"(n_mixer k keeps the last k of {list(MIXERS)}); missing key "
            f"'{next(m for m in expected if m not in mixers)}.2.weight'"
        )
    named = weights.hyper_parameters.get("n_mixer")
    if named is not None and min(named, len(MIXERS)) != len(mixers):
        raise WeightsImportError(
            f"{weights.path}: hyper_parameters say n_mixer {named} but the checkpoint holds "
            f"the mixers {list(mixers)}; it lacks keys of the paper layout"
        )
    task, head = _task(weights)
    features = timm.create_model(BACKBONE, features_only=True, out_indices=(-3, -2, -1))
    channels = dict(zip(MIXERS, features.feature_info.channels(), strict=True))
    strides = dict(zip(MIXERS, features.feature_info.reduction(), strict=True))
    first = mixers[0]
    dim = _tensor(weights, f"{first}.2.weight", ndim=2).shape[0]
    depth = 0
    while f"{first}.{3 + depth}.0.norm.weight" in state:
        depth += 1
    if depth == 0:
        raise WeightsImportError(f"{weights.path}: missing key '{first}.3.0.norm.weight'")
    out_dim = _tensor(weights, f"{first}.{5 + depth}.weight", ndim=2).shape[0]
    time_patches, windows = set(), {}
    for mixer in mixers:
        time_patch, frames = _mixer_window(
            weights, mixer, channels[mixer], input_size // strides[mixer], input_size
        )
        time_patches.add(time_patch)
        windows[mixer] = frames
    if len(time_patches) != 1 or len(set(windows.values())) != 1:
        raise WeightsImportError(
            f"{weights.path}: the mixers disagree on time patch {sorted(time_patches)} or "
            f"window {windows}; every mixer of the paper model shares both"
        )
    found = windows[first]
    _check_window(weights, found, window, input_size)
    token_in = _tensor(weights, f"{first}.3.0.fn.0.weight", ndim=3).shape
    channel_hidden = _tensor(weights, f"{first}.3.1.fn.0.weight", ndim=2).shape[0]
    try:
        config = ModelConfig(
            variant=VARIANTS[len(mixers)],
            window=found,
            time_patch=time_patches.pop(),
            spatial_patch=tuple(MIXERS.values()),
            hidden_dim=dim,
            depth=depth,
            token_expansion=token_in[0] / token_in[1],
            channel_expansion=channel_hidden / dim,
            mixer_out_dim=out_dim,
            head_dropout=HEAD_DROPOUT,
            tasks=(head,),
            backbone=BACKBONE,
            input_size=input_size,
        )
    except ValueError as err:
        raise WeightsImportError(f"{weights.path}: {err}") from err
    return PaperModel(task, mixers, config)


def paper_to_affect_model(weights: WeightFile, paper: PaperModel) -> AffectModel:
    """An `AffectModel` holding the paper checkpoint's weights (eval mode).

    Raises:
        WeightsImportError: keys missing, left over or of the wrong shape.
    """
    model = AffectModel(paper.config).eval()
    mapping = _Mapping(weights.state)
    _map_state(mapping, paper, model)
    own = model.state_dict()
    body = "backbone.body."
    missing = mapping.missing + [
        f"backbone.{k[len(body) :]}" for k in own if k.startswith(body) and k not in mapping.out
    ]
    leftover = sorted(set(weights.state) - mapping.used) + sorted(
        mapping.source[k] for k in mapping.out if k not in own
    )
    wrong = [
        f"{mapping.source[k]} {tuple(v.shape)} (want {tuple(own[k].shape)})"
        for k, v in mapping.out.items()
        if k in own and v.shape != own[k].shape
    ]
    problems = [
        f"{label} {items[:3]} ({len(items)} in all)"
        for label, items in (
            ("missing", missing),
            ("not in the paper layout", leftover),
            ("of the wrong shape", wrong),
        )
        if items
    ]
    if problems:
        raise WeightsImportError(
            f"{weights.path} does not fit the paper model its tensors describe "
            f"({paper.config.variant} variant, window {paper.config.window}): "
            f"{'; '.join(problems)}"
        )
    assert set(mapping.out) == set(own), sorted(set(own) ^ set(mapping.out))[:4]
    model.load_state_dict(mapping.out)
    return model


def _task(weights: WeightFile) -> tuple[str, str]:
    """Their task name and our head for the checkpoint's classifier."""
    outputs = _tensor(weights, "classifier.weight", ndim=2).shape[0]
    named = weights.hyper_parameters.get("task")
    if outputs not in TASKS_BY_OUTPUTS:
        raise WeightsImportError(
            f"{weights.path}: 'classifier.weight' has {outputs} outputs; the paper's tasks have "
            f"{sorted(TASKS_BY_OUTPUTS)} (VA, AU, EXPR)"
        )
    task, head = TASKS_BY_OUTPUTS[outputs]
    if named is not None and named != task:
        raise WeightsImportError(
            f"{weights.path}: hyper_parameters say task {named!r} but the classifier has "
            f"{outputs} outputs, which is {task}"
        )
    if head is None:
        raise WeightsImportError(
            f"{weights.path} is a {task} model (8 expression classes): this project has no "
            "expression head, only valence/arousal, AUs, EMI and A/H; import a VA or AU "
            "checkpoint of the paper's code"
        )
    return task, head


def _tensor(weights: WeightFile, key: str, ndim: int) -> torch.Tensor:
    """``weights.state[key]``, which must exist with ``ndim`` dimensions."""
    if key not in weights.state:
        raise WeightsImportError(f"{weights.path}: missing key {key!r} of the paper layout")
    value = weights.state[key]
    if value.ndim != ndim:
        raise WeightsImportError(
            f"{weights.path}: {key!r} has shape {tuple(value.shape)}, expected {ndim} dimensions"
        )
    return value


def _mixer_window(
    weights: WeightFile, mixer: str, channels: int, side: int, input_size: int
) -> tuple[int, int]:
    """(time patch, window) of one mixer from its patch embedding and token MLP."""
    patch = MIXERS[mixer]
    embed = _tensor(weights, f"{mixer}.2.weight", ndim=2)
    per_frame = channels * patch * patch
    if embed.shape[1] % per_frame:
        raise WeightsImportError(
            f"{weights.path}: '{mixer}.2.weight' has shape {tuple(embed.shape)}; its "
            f"{embed.shape[1]} inputs are not (time patch × {patch}² × {channels} channels) "
            f"of the {BACKBONE} map it mixes"
        )
    time_patch = embed.shape[1] // per_frame
    tokens = _tensor(weights, f"{mixer}.3.0.fn.0.weight", ndim=3).shape[1]
    if side % patch or tokens % (side // patch) ** 2:
        raise WeightsImportError(
            f"{weights.path}: {mixer} mixes {tokens} tokens, which {patch}×{patch} patches of "
            f"the {side}×{side} map at input size {input_size} do not tile; give the "
            "--input-size it was trained at (the paper's code: 224)"
        )
    return time_patch, tokens // (side // patch) ** 2 * time_patch


def _check_window(weights: WeightFile, found: int, window: int | None, input_size: int) -> None:
    """The window from the tensors must match the caller's and the hyper-parameters'."""
    for source, value in (
        ("--window", window),
        ("hyper_parameters seq_len", weights.hyper_parameters.get("seq_len")),
    ):
        if value is not None and value != found:
            raise WeightsImportError(
                f"{weights.path}: {source} is {value} but the mixers' token counts give a "
                f"window of {found} frames at input size {input_size}"
            )


def token_permutation(frames: int, side: int) -> torch.Tensor:
    """For each of our tokens ``(t h w)``, the index of the same token in their ``(h w t)``."""
    theirs = torch.arange(side * side * frames).reshape(side, side, frames)
    return theirs.permute(2, 0, 1).flatten()


class _Mapping:
    """Their tensors copied under our names, remembering what was used and what was not."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self.state = state
        self.out: dict[str, torch.Tensor] = {}
        self.source: dict[str, str] = {}  # our key -> their key
        self.used: set[str] = set()
        self.missing: list[str] = []

    def copy(
        self, theirs: str, ours: str, change: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> None:
        """Put their tensor ``theirs`` under ``ours``, through ``change`` if given."""
        if theirs not in self.state:
            self.missing.append(theirs)
            return
        value = self.state[theirs]
        self.used.add(theirs)
        self.out[ours] = value if change is None else change(value)
        self.source[ours] = theirs

    def copy_pair(self, theirs: str, ours: str) -> None:
        """Weight and bias of one layer."""
        for part in ("weight", "bias"):
            self.copy(f"{theirs}.{part}", f"{ours}.{part}")


def _map_state(mapping: _Mapping, paper: PaperModel, model: AffectModel) -> None:
    """Map every tensor of their model onto ours, rearranged where the layouts differ."""
    for key in mapping.state:
        if key.startswith("backbone."):
            mapping.copy(key, f"backbone.body.{key[len('backbone.') :]}")
    config = paper.config
    for mixer, name in zip(paper.mixers, model.feature_names, strict=True):
        channels, side, _ = model.feature_shapes[name]
        patch, ours = MIXERS[mixer], f"tam.mixers.{name}"
        embed_shape = (config.hidden_dim, patch, patch, config.time_patch, channels)
        # their Linear over (p1 p2 pt C) is our Conv3d weight (dim, C, pt, p1, p2)
        mapping.copy(
            f"{mixer}.2.weight", f"{ours}.embed.weight", lambda w, s=embed_shape: _embedding(w, s)
        )
        mapping.copy(f"{mixer}.2.bias", f"{ours}.embed.bias")
        order = token_permutation(config.window // config.time_patch, side // patch)
        for i in range(config.depth):
            theirs, block = f"{mixer}.{3 + i}", f"{ours}.blocks.{i}"
            for (residual, module), mine in BLOCK_KEYS.items():
                mapping.copy_pair(f"{theirs}.{residual}.{module}", f"{block}.{mine}")
            tokens = f"{theirs}.0.fn"
            mapping.copy(
                f"{tokens}.0.weight",
                f"{block}.mlp_tokens.fc1.weight",
                lambda w, o=order: _permuted(w.squeeze(-1), o, 1),
            )
            mapping.copy(f"{tokens}.0.bias", f"{block}.mlp_tokens.fc1.bias")
            mapping.copy(
                f"{tokens}.3.weight",
                f"{block}.mlp_tokens.fc2.weight",
                lambda w, o=order: _permuted(w.squeeze(-1), o, 0),
            )
            mapping.copy(
                f"{tokens}.3.bias",
                f"{block}.mlp_tokens.fc2.bias",
                lambda b, o=order: _permuted(b, o, 0),
            )
        mapping.copy_pair(f"{mixer}.{3 + config.depth}", f"{ours}.norm")
        mapping.copy_pair(f"{mixer}.{5 + config.depth}", f"{ours}.out")
    mapping.copy_pair("classifier", f"heads.heads.{config.tasks[0]}.0")


def _embedding(value: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Their (dim, p·p·pt·C) Linear weight as our (dim, C, pt, p, p) Conv3d weight, or
    unchanged (then reported misshapen) when it does not hold ``shape``'s elements."""
    if value.numel() != prod(shape):
        return value
    return value.reshape(shape).permute(0, 4, 3, 1, 2)


def _permuted(value: torch.Tensor, order: torch.Tensor, dim: int) -> torch.Tensor:
    """``value`` reordered along ``dim``, or unchanged when that axis is not ``order`` long."""
    if value.ndim <= dim or value.shape[dim] != len(order):
        return value
    return value.index_select(dim, order)
