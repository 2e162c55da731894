"""Read a weight file as tensors only, find its state dict, and tell which layout it has.

Pickled files go through ``torch.load(weights_only=True)``: tensors, plain containers and
numbers, plus ``argparse.Namespace`` (timm's train.py stores its arguments as one). Any other
Python object, such as a ``__reduce__`` that would run code, is refused before it runs.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from affect_perception.cli_errors import InputError

# The only non-container class a checkpoint may hold: timm train.py's saved arguments.
ALLOWED_GLOBALS = (argparse.Namespace,)
FORMATS = ("paper", "timm")
# Where each kind of checkpoint keeps its weights, in the order they are looked for; timm's
# EMA weights first (timm loads them first too), unless the caller asks for the raw ones.
EMA_KEYS = ("state_dict_ema", "model_ema")
STATE_KEYS = (*EMA_KEYS, "state_dict", "model")
# Prefix DistributedDataParallel adds to every key.
DDP_PREFIX = "module."
# A key that only each layout has.
PAPER_MARK, TIMM_MARK = "last_mixer.2.weight", "conv_stem.weight"
CHUNK = 1 << 20


class WeightsImportError(InputError):
    """A weight file that cannot be imported; the message says why and what to do."""


@dataclass
class WeightFile:
    """What a weight file holds.

    Attributes:
        path: the file.
        sha256: hex digest of its bytes.
        state: parameter name -> tensor.
        state_key: where in the file the state came from (one of `STATE_KEYS`, or ``""``
            for a bare state dict).
        hyper_parameters: PyTorch Lightning's ``hyper_parameters`` (empty when none).
        args: timm train.py's ``args`` as a dict (empty when none).
    """

    path: Path
    sha256: str
    state: dict[str, torch.Tensor]
    state_key: str = ""
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_weight_file(path: Path, ema: bool = True) -> WeightFile:
    """Read ``path`` (a torch pickle or a safetensors file) and pick its state dict.

    Args:
        path: the checkpoint.
        ema: prefer the EMA weights (``state_dict_ema``, ``model_ema``) over ``state_dict``
            when both are there.

    Raises:
        WeightsImportError: missing, unreadable, holding objects other than tensors, or
            without a state dict of tensors.
    """
    if not path.is_file():
        raise WeightsImportError(f"{path} is not a file")
    data = _load_safetensors(path) if path.suffix == ".safetensors" else _load_pickle(path)
    state, key = _pick_state(data, path, ema)
    prefixed = bool(state) and all(k.startswith(DDP_PREFIX) for k in state)
    if prefixed:
        state = {k[len(DDP_PREFIX) :]: v for k, v in state.items()}
    hyper = data.get("hyper_parameters") if key else None
    args = data.get("args") if key else None
    return WeightFile(
        path,
        file_sha256(path),
        state,
        key,
        dict(hyper) if isinstance(hyper, dict) else {},
        vars(args) if isinstance(args, argparse.Namespace) else {},
    )


def detect_format(weights: WeightFile, wanted: str | None) -> str:
    """The layout of ``weights``: ``wanted`` if given (checked by the importer), else the
    layout whose marker key is present.

    Raises:
        WeightsImportError: ``wanted`` is unknown, or no layout's marker key is present.
    """
    if wanted is not None:
        if wanted not in FORMATS:
            raise WeightsImportError(f"unknown format {wanted!r}: choose one of {list(FORMATS)}")
        return wanted
    if PAPER_MARK in weights.state:
        return "paper"
    if TIMM_MARK in weights.state:
        return "timm"
    sample = sorted(weights.state)[:3]
    raise WeightsImportError(
        f"cannot tell the format of {weights.path}: it has neither the paper code's "
        f"{PAPER_MARK!r} nor timm's {TIMM_MARK!r} (keys such as {sample}); "
        f"name it with --format {'|'.join(FORMATS)} if it is one of them"
    )


def _load_pickle(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with only `ALLOWED_GLOBALS` added."""
    # process-wide and idempotent (torch >= 2.4); a Namespace runs no code when unpickled
    torch.serialization.add_safe_globals(list(ALLOWED_GLOBALS))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _reason(err)
        if "GLOBAL" not in reason:  # not a pickle torch could read, e.g. a text file
            raise WeightsImportError(
                f"{path} is not a readable torch checkpoint (reading weights-only stopped at: "
                f"{reason}); nothing in it was run"
            ) from err
        raise WeightsImportError(
            f"{path} was refused without being run: it holds Python objects other than "
            f"tensors ({reason}); only tensors are read from weight files, so save "
            "its state dict alone (torch.save(model.state_dict(), ...))"
        ) from err
    except Exception as err:  # torch raises many types for files that are not checkpoints
        raise WeightsImportError(f"{path} is not a readable torch checkpoint: {err}") from err


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise WeightsImportError(f"{path} is not a readable safetensors file: {err}") from err


def _reason(err: Exception) -> str:
    """The line of torch's long refusal that names what was refused."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported" in line]
    return (named or lines or ["no reason given"])[0].rstrip(".")


def _pick_state(data: Any, path: Path, ema: bool) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict inside ``data`` and the key it was found under ("" for a bare one)."""
    if not isinstance(data, dict):
        raise WeightsImportError(
            f"{path} holds a {type(data).__name__}, not a state dict or a checkpoint dict"
        )
    if data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return dict(data), ""
    keys = [k for k in STATE_KEYS if k in data and (ema or k not in EMA_KEYS)]
    if not keys:
        raise WeightsImportError(
            f"{path} holds no state dict: expected tensors, or one of {list(STATE_KEYS)} "
            f"(found keys {sorted(map(str, data))[:6]})"
        )
    state = data[keys[0]]
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise WeightsImportError(f"{path}: {keys[0]!r} must map parameter names to tensors")
    return dict(state), keys[0]
