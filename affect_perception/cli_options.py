"""Options several subcommands share, declared and read in one place."""

from __future__ import annotations

import argparse
from pathlib import Path

from affect_perception.cli_errors import InputError, model_folder

MODEL_HELP = "model folder from `affect-perception export` (default: the bundled demo model)"


def add_model_option(parser: argparse.ArgumentParser, help_: str = MODEL_HELP) -> None:
    """``--model DIR``, None when left out (see :func:`chosen_model`)."""
    parser.add_argument("--model", type=Path, default=None, metavar="DIR", help=help_)


def chosen_model(path: Path | None) -> Path:
    """The model folder ``--model`` names, checked, or the bundled demo model."""
    if path is not None:
        return model_folder(path, "--model")
    from affect_perception.resources import bundled_model_dir

    try:
        return bundled_model_dir()
    except FileNotFoundError as err:
        raise InputError(f"{err} (or pass --model DIR)") from None
