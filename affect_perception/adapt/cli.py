"""``affect-perception adapt``: fine-tune a model on the user's own unlabelled recordings.

``--bag REC`` (repeatable): a rosbag2 folder (MCAP or sqlite3, raw or compressed images), a
folder of images or a video file. Several processes: ``torchrun --nproc_per_node N -m
affect_perception.cli adapt ...`` (the teaching runs on the first, the fine-tune on all).
See `adapt.run` for what lands in ``--out``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from affect_perception.adapt.config import AdaptConfig
from affect_perception.cli_errors import InputError, existing_path, output_folder
from affect_perception.cli_options import add_model_option
from affect_perception.train.cli import add_dataclass_flags, flag_values

PREFIX = "adapt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``adapt`` options."""
    parser.add_argument(
        "--bag",
        type=Path,
        action="append",
        required=True,
        metavar="REC",
        help="a recording: rosbag2 folder, image folder or video file (repeat for several)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_model_option(
        parser,
        "starting model: a model folder (ONNX + model.json) or a checkpoint folder "
        "(default: the bundled demo model)",
    )
    add_dataclass_flags(
        parser.add_argument_group("adapting"),
        AdaptConfig,
        PREFIX,
        skip=("recordings", "out", "model"),
    )


def run(args: argparse.Namespace) -> int:
    """Adapt; a bad input raises InputError (one line on stderr, exit code 2)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect_perception.adapt.run import AGREEMENT, REPORT_FILE, Adapter
    from affect_perception.evaluation.bag_io import BagError
    from affect_perception.model.checkpoint import CheckpointError
    from affect_perception.resources import bundled_model_dir
    from affect_perception.train import distributed

    info = None
    try:
        config = AdaptConfig(
            recordings=tuple(existing_path(p, "--bag") for p in args.bag),
            out=output_folder(args.out, "--out"),
            model=bundled_model_dir()
            if args.model is None
            else existing_path(args.model, "--model"),
            **flag_values(args, PREFIX),
        )
        info = distributed.init_distributed(distributed.device_for(config.device))
        report = Adapter(config, info).run()
    except (ValueError, OSError, BagError, CheckpointError) as err:
        raise InputError(str(err)) from None
    finally:
        if info is not None:
            distributed.cleanup(info)
    if report is not None:
        agree = report["heldout_agreement"]
        print(
            f"held-out tracks {agree['tracks']}: "
            + "; ".join(f"{o} {agree[o]['before']} -> {agree[o]['after']}" for o in AGREEMENT)
        )
        print(f"model: {Path(args.out) / 'model'}; report: {Path(args.out) / REPORT_FILE}")
    return 0
