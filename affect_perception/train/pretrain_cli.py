"""`affect-perception pretrain`: frame-level backbone pretraining (train/pretrain.py).

Every `PretrainConfig` field has a flag of the same name (``--epochs 2``, ``--input-size
128``). Writes ``backbone.safetensors``, which ``affect-perception train --backbone-weights``
loads.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from affect_perception.train.cli import add_dataclass_flags, flag_values

PREFIX = "pretrain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `PretrainConfig` field."""
    from affect_perception.train.pretrain import PretrainConfig

    add_dataclass_flags(parser.add_argument_group("pretraining"), PretrainConfig, PREFIX)


def run(args: argparse.Namespace) -> int:
    """Pretrain; 0 on success, 1 on a user error (bad value, missing data)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect_perception.evaluation.labels_io import LabelFileError
    from affect_perception.train.pretrain import WEIGHTS_FILE, PretrainConfig, Pretrainer

    try:
        config = PretrainConfig(**flag_values(args, PREFIX))
        Pretrainer(config).fit()
    except (ValueError, FileNotFoundError, LabelFileError) as err:
        print(f"affect-perception pretrain: {err}", file=sys.stderr)
        return 1
    print(f"backbone weights: {Path(config.out) / WEIGHTS_FILE}")
    return 0
