"""Checkpoints: a directory holding ``model.safetensors`` (weights) and ``config.json``.

`load_checkpoint` also takes the ``model.safetensors`` file itself (``config.json`` beside it)
and a ``.pt``/``.pth`` file holding ``{"config": dict, "state_dict": tensors}``, read with
``torch.load(weights_only=True)`` only. Anything wrong raises `CheckpointError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# File suffixes read as pickled torch checkpoints (weights-only).
TORCH_SUFFIXES = (".pt", ".pth")
# What a checkpoint path may be, for error messages.
EXPECTED = (
    f"a directory holding {CONFIG_FILE} and {WEIGHTS_FILE}, a {WEIGHTS_FILE} file with "
    f"{CONFIG_FILE} beside it, or a .pt file holding 'config' and 'state_dict'"
)


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or does not fit the model it describes."""


def save_checkpoint(model: AffectModel, path: str | Path) -> Path:
    """Write ``path/model.safetensors`` and ``path/config.json``; returns the directory."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS_FILE))
    (path / CONFIG_FILE).write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    return path


def load_checkpoint(path: str | Path) -> AffectModel:
    """Rebuild the model a checkpoint describes and load its weights (see module docstring).

    Raises:
        CheckpointError: the path is not a checkpoint, or a file in it is corrupt or does not
            fit its config.
    """
    path = Path(path)
    if path.is_dir():
        config, state = _read_config(path / CONFIG_FILE), _read_safetensors(path / WEIGHTS_FILE)
    elif path.suffix == ".safetensors":
        config, state = _read_config(path.with_name(CONFIG_FILE)), _read_safetensors(path)
    elif path.suffix in TORCH_SUFFIXES:
        config, state = _read_torch(path)
    else:
        raise CheckpointError(f"{path} is not a checkpoint: expected {EXPECTED}")
    # the checkpoint holds every weight, so a local backbone file is not read again
    model = AffectModel(replace(config, backbone_weights=None))
    _load_state(model, state, path)
    return model


def _read_config(path: Path) -> ModelConfig:
    """Parse and validate a config.json."""
    try:
        return ModelConfig.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as err:
        raise CheckpointError(f"{path} is missing: expected {EXPECTED}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not a readable JSON file: {err}") from err
    except ValueError as err:
        raise CheckpointError(f"{path} is not a valid model config: {err}") from err


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors weights file."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: expected {EXPECTED}")
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(
            f"{path} is not a valid safetensors file ({err}); "
            "it may be truncated: save the checkpoint again"
        ) from err


def _read_torch(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Read a weights-only torch checkpoint holding 'config' and 'state_dict'."""
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointError(f"{path} is missing") from err
    except Exception as err:  # torch raises many types for corrupt or unsafe pickles
        raise CheckpointError(
            f"{path} cannot be read with torch.load(weights_only=True): {err}"
        ) from err
    if not isinstance(data, dict) or not {"config", "state_dict"} <= set(data):
        raise CheckpointError(f"{path} must hold a dict with 'config' and 'state_dict'")
    state = data["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'state_dict' must map parameter names to tensors")
    try:
        config = ModelConfig.from_dict(data["config"])
    except ValueError as err:
        raise CheckpointError(f"{path} holds an invalid model config: {err}") from err
    return config, state


def _load_state(model: AffectModel, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load weights strictly, naming the first mismatches if they do not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: weights do not fit the model its config describes "
            f"({len(missing)} missing, e.g. {missing[:2]}; {len(unexpected)} unexpected, "
            f"e.g. {unexpected[:2]}; {len(wrong)} of the wrong shape, e.g. {wrong[:2]})"
        )
    model.load_state_dict(state)
