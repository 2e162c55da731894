"""Options declared once for several subcommands: `--model` and the dataclass flags."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest

from affect_perception.adapt import cli as adapt_cli
from affect_perception.adapt.config import AdaptConfig
from affect_perception.cli_errors import InputError
from affect_perception.cli_options import add_model_option, chosen_model
from affect_perception.resources import bundled_model_dir
from affect_perception.train.cli import flag_values


def test_model_option_defaults_to_the_bundled_model_and_checks_a_given_one(
    tmp_path: Path,
) -> None:
    parser = argparse.ArgumentParser()
    add_model_option(parser)
    assert chosen_model(parser.parse_args([]).model) == bundled_model_dir()
    given = parser.parse_args(["--model", str(bundled_model_dir())]).model
    assert chosen_model(given) == bundled_model_dir()
    with pytest.raises(InputError, match="is not a folder"):
        chosen_model(tmp_path / "missing")
    with pytest.raises(InputError, match="lacks"):
        chosen_model(tmp_path)


def test_adapt_flags_are_the_config_fields_with_their_defaults() -> None:
    parser = argparse.ArgumentParser()
    adapt_cli.add_arguments(parser)
    base = ["--bag", "rec", "--out", "out"]
    # left out, a flag keeps the dataclass default: nothing is passed
    assert flag_values(parser.parse_args(base), adapt_cli.PREFIX) == {}
    args = parser.parse_args([*base, "--epochs", "2", "--lr", "3e-4", "--no-progress", "--resume"])
    values = flag_values(args, adapt_cli.PREFIX)
    assert values == {"epochs": 2, "lr": 3e-4, "progress": False, "resume": True}
    config = AdaptConfig(recordings=(Path("rec"),), out=Path("out"), model=Path("m"), **values)
    assert (config.epochs, config.lr, config.progress, config.resume) == (2, 3e-4, False, True)
    flags = {a.dest.split(".", 1)[1] for a in parser._actions if a.dest.startswith("adapt.")}
    assert flags == {f.name for f in fields(AdaptConfig)} - {"recordings", "out", "model"}
    helps = {a.dest: a.help for a in parser._actions}
    assert helps["adapt.epochs"] == "fine-tune epochs (default: 3)"
    assert helps["adapt.score_threshold"] == "face-detector threshold (default: the runtime's)"


def test_adapt_config_refuses_an_unknown_device() -> None:
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        AdaptConfig(recordings=(Path("rec"),), out=Path("out"), model=Path("m"), device="gpu")
