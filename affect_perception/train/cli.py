"""`affect-perception train`: a YAML config and/or flags -> a training run.

Every config key has a flag of the same name (``--segment-length 32``, ``--tasks va au``,
``--no-feature-cache``); flags left out keep the YAML file's value, which keeps the default's.
Values are read as YAML (``--cache-channels null``, ``--lr 3e-4``). Several processes:
``torchrun --nproc_per_node N -m affect_perception.cli train ...``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

import yaml

# Help of the flags whose meaning the key name alone does not say.
HELP: dict[str, str] = {
    "train": "training data roots (the `synth` output layout)",
    "val": "validation data roots (default: the training roots' validation split)",
    "out": "output folder: config.yaml, metrics.jsonl, checkpoints/",
    "resume": "checkpoints/last folder of a run to continue",
    "tasks": "heads to train, a subset of va au emi ah",
}


def _value(text: str) -> Any:
    """A flag value: a number (``2e-3`` too, which YAML 1.1 reads as text), else YAML (null,
    true/false, lists), else the plain string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _help(f: Field, default: Any) -> str:
    """A flag's help: the field's ``metadata["help"]`` (with the default unless None), else
    `HELP`'s, else the default."""
    text = f.metadata.get("help")
    if not text:
        return HELP.get(f.name, f"default: {default!r}")
    return text if default is None else f"{text} (default: {default!r})"


def add_dataclass_flags(
    group: argparse._ArgumentGroup, cls: type, prefix: str, skip: tuple[str, ...] = ()
) -> None:
    """One flag per field of dataclass ``cls`` but ``skip`` (``--segment-length``), stored as
    ``<prefix>.<field>`` with default None (unset); bools get ``--x`` / ``--no-x``."""
    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {
            "dest": f"{prefix}.{f.name}",
            "default": None,
            "help": _help(f, default),
        }
        # text fields (paths, names) stay text even when they look like numbers
        parse = _value if any(t in str(f.type) for t in ("int", "float")) else str
        if "bool" in str(f.type):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, tuple):
            kwargs.update(nargs="+", type=parse, metavar=f.name.upper())
        else:
            kwargs.update(type=parse, metavar=f.name.upper())
        group.add_argument(flag, **kwargs)


def flag_values(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """{field: value} of the ``<prefix>.<field>`` flags that were given."""
    return {
        dest.split(".", 1)[1]: value
        for dest, value in vars(args).items()
        if dest.startswith(prefix + ".") and value is not None
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` and one flag per key of every config section (default: unset)."""
    from affect_perception.train.config import SECTIONS

    parser.add_argument("--config", type=Path, help="YAML file with model/data/run sections")
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"{section} (config section {section!r})")
        add_dataclass_flags(group, cls, section)


def config_from_args(args: argparse.Namespace):
    """The `TrainConfig` of parsed arguments: defaults, then ``--config``, then set flags."""
    from affect_perception.train.config import SECTIONS, TrainConfig

    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    overrides = {section: flag_values(args, section) for section in SECTIONS}
    return config.updated({k: v for k, v in overrides.items() if v})


def run(args: argparse.Namespace) -> int:
    """Train; 0 on success, 1 on a user error (bad config, missing data)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect_perception.evaluation.labels_io import LabelFileError
    from affect_perception.model.checkpoint import CheckpointError
    from affect_perception.train import distributed
    from affect_perception.train.trainer import BEST, Trainer

    info = None
    try:
        config = config_from_args(args)
        info = distributed.init_distributed(distributed.device_for(config.run.device))
        trainer = Trainer(config, info)
        trainer.fit()
    except (ValueError, FileNotFoundError, LabelFileError, CheckpointError) as err:
        print(f"affect-perception train: {err}", file=sys.stderr)
        return 1
    finally:
        if info is not None:
            distributed.cleanup(info)
    if info.is_main:
        print(f"best checkpoint: {Path(config.run.out) / BEST}")
    return 0
