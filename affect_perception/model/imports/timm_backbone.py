"""A timm ``mobilenetv4_conv_small`` checkpoint into the project's backbone weights file.

The output is what `ModelConfig.backbone_weights` loads (and ``affect-perception pretrain``
writes): the timm ``features_only`` state dict as safetensors. The classification head
(``conv_head``, ``norm_head``, ``classifier``) is dropped; nothing else may be left over.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

from affect_perception.model.config import ModelConfig
from affect_perception.model.imports.reading import WeightFile, WeightsImportError

# The project's backbone: the only one either layout can hold.
BACKBONE = ModelConfig.backbone
# Layers of the full timm model that the features-only backbone does not have.
HEAD_PREFIXES = ("conv_head.", "norm_head.", "classifier.")
# train.py arguments that name the model and the input size it was trained at.
MODEL_ARG = "model"
SIZE_ARGS = ("img_size", "input_size")


def backbone_state(weights: WeightFile) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The features-only backbone tensors of a timm checkpoint, and the head keys dropped.

    Raises:
        WeightsImportError: the checkpoint names another model, or a backbone tensor is
            missing, misshapen or unknown to ``mobilenetv4_conv_small``.
    """
    named = weights.args.get(MODEL_ARG)
    if named is not None and named != BACKBONE:
        raise WeightsImportError(
            f"{weights.path} is a checkpoint of timm model {named!r} (its args say so); only "
            f"{BACKBONE} is this project's backbone"
        )
    own = timm.create_model(BACKBONE, pretrained=False, features_only=True).state_dict()
    state = weights.state
    missing = [k for k in own if k not in state]
    wrong = [
        f"{k} {tuple(state[k].shape)} (want {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    dropped = sorted(k for k in state if k not in own and k.startswith(HEAD_PREFIXES))
    unknown = sorted(set(state) - set(own) - set(dropped))
    if missing or wrong or unknown:
        raise WeightsImportError(
            f"{weights.path} is not a timm {BACKBONE} state dict: {len(missing)} keys missing "
            f"(e.g. {missing[:2]}), {len(wrong)} of the wrong shape (e.g. {wrong[:1]}), "
            f"{len(unknown)} unknown (e.g. {unknown[:2]})"
        )
    return {k: state[k].contiguous() for k in own}, dropped


def trained_input_size(weights: WeightFile) -> int | None:
    """The input size train.py's args name, if any (the weights work at any size)."""
    for key in SIZE_ARGS:
        value = weights.args.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, (list, tuple)) and value and isinstance(value[-1], int):
            return value[-1]
    return None


def save_backbone(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Write the backbone tensors as safetensors at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path
