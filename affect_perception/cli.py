"""`affect-perception` command line: one subcommand per job, each in the module that does it.

Each subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; only the
chosen one is imported, so ``affect-perception score`` never pays for torch. An
:class:`~affect_perception.cli_errors.InputError` raised by a subcommand, or an optional
dependency that is not installed, ends the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from affect_perception.cli_errors import EXIT_INPUT, InputError, missing_dependency, one_line

# name -> (module implementing it, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("affect_perception.demo", "run the node on a synthetic bag and show what it saw"),
    "synth": ("affect_perception.synth.cli", "write synthetic face videos with labels"),
    "make-bag": ("affect_perception.evaluation.make_bag", "write a rosbag2 bag of camera frames"),
    "pretrain": (
        "affect_perception.train.pretrain_cli",
        "pretrain the backbone frame by frame (the stand-in for pretrained weights)",
    ),
    "train": ("affect_perception.train.cli", "train a model"),
    "export": ("affect_perception.model.export_cli", "export a model to ONNX"),
    "quantize": (
        "affect_perception.model.quantize",
        "write a model's INT8 encoder (static quantisation, calibrated)",
    ),
    "import-weights": (
        "affect_perception.model.imports.cli",
        "import trained weights: the paper code's layout or a timm backbone",
    ),
    "adapt": (
        "affect_perception.adapt.cli",
        "fine-tune a model on your own unlabelled recordings, taught by real-face teachers",
    ),
    "score": ("affect_perception.evaluation.score", "score predictions against ABAW labels"),
    "eval": ("affect_perception.evaluation.evaluate", "replay a bag through the pipeline"),
    "bench": ("affect_perception.bench.cli", "benchmark speed against peers and the limit"),
    "realcheck": (
        "affect_perception.realfaces.cli",
        "measure a model on real faces: detection, ids, invariances, teachers",
    ),
}


def _load(command: str) -> ModuleType | None:
    """Import a subcommand's module, or None while it is not implemented yet.

    Raises:
        InputError: an optional dependency of the module is not installed.
    """
    name = SUBCOMMANDS[command][0]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and name.startswith(err.name):
            return None
        raise missing_dependency(command, err) or err from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``affect-perception`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="affect-perception",
        description="Per-face affect perception: data, training, export, evaluation, benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {
        name: sub.add_parser(name, help=help_, description=help_)
        for name, (_, help_) in SUBCOMMANDS.items()
    }
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        module = None
        if command in SUBCOMMANDS:
            module = _load(command)
            if module is None:
                print(f"affect-perception {command}: not implemented yet", file=sys.stderr)
                return 2
            module.add_arguments(parsers[command])
        args = parser.parse_args(argv)
        assert module is not None  # argparse exits on an unknown command
        try:
            return int(module.run(args) or 0)
        except ModuleNotFoundError as err:  # a dependency imported on the way
            raise missing_dependency(command, err) or err from None
    except InputError as err:
        print(f"affect-perception {command}: error: {one_line(err)}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
