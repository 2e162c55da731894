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

from affect_perception.cli_errors import InputError, existing_path, output_folder


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
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="starting model: a model folder (ONNX + model.json) or a "
        "checkpoint folder (default: the bundled demo model)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split, the synthetic set and the training"
    )
    parser.add_argument("--topic", default=None, help="bag image topic (default: the only one)")
    parser.add_argument(
        "--holdout", type=float, default=0.25, help="share of face tracks held out for measurement"
    )
    parser.add_argument(
        "--teach-every", type=int, default=3, help="teach every k-th face-frame of a track"
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        help="face-detector threshold (default: the runtime's)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--segment-length",
        type=int,
        default=16,
        help="frames per training segment (tracks shorter are left out)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=1e-4,
        help="peak learning rate (higher: faster, and more forgetting)",
    )
    parser.add_argument(
        "--synth-videos",
        type=int,
        default=16,
        help="synthetic videos mixed in (a quarter held out)",
    )
    parser.add_argument("--synth-frames", type=int, default=64, help="frames per synthetic video")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )


def run(args: argparse.Namespace) -> int:
    """Adapt; a bad input raises InputError (one line on stderr, exit code 2)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect_perception.adapt.run import AGREEMENT, REPORT_FILE, AdaptConfig, Adapter
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
            seed=args.seed,
            holdout=args.holdout,
            teach_every=args.teach_every,
            score_threshold=args.score_threshold,
            topic=args.topic,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            batch_size=args.batch_size,
            segment_length=args.segment_length,
            lr=args.lr,
            synth_videos=args.synth_videos,
            synth_frames=args.synth_frames,
            device=args.device,
            threads=args.threads,
            resume=args.resume,
            progress=args.progress,
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
