"""``affect-perception synth``: write synthetic face videos in the real datasets' layouts.

Examples::

    affect-perception synth --out data/synth --videos 40 --frames 300 --seed 0 --faces 1
    affect-perception synth --strip docs/synth_strip.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from affect_perception.cli_errors import output_folder
from affect_perception.synth.dataset import DatasetConfig, write_dataset
from affect_perception.synth.strip import STRIP_SEED, save_strip


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the synth options to ``parser``."""
    parser.add_argument("--out", help="output folder (cropped_aligned/, label folders, ...)")
    parser.add_argument("--videos", type=int, default=10, help="number of videos")
    parser.add_argument("--frames", type=int, default=300, help="frames per video")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"dataset seed (default 0); strip video seed (default {STRIP_SEED})",
    )
    parser.add_argument("--faces", type=int, default=1, help="faces per video (side by side)")
    parser.add_argument(
        "--val-ratio", type=float, default=0.2, help="share of videos in Validation_Set"
    )
    parser.add_argument("--size", type=_size, default=(640, 480), help="frame size WxH")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate")
    parser.add_argument("--crop-size", type=int, default=224, help="aligned crop side")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes rendering videos side by side (same files for any number)",
    )
    parser.add_argument(
        "--strip", metavar="PNG", help="also write a strip of labelled frames to PNG"
    )


def run(args: argparse.Namespace) -> int:
    """Write the dataset and/or the strip; return the exit status."""
    if not args.out and not args.strip:
        raise SystemExit(
            "affect-perception synth: give --out DIR (a dataset) and/or --strip PNG (a picture)"
        )
    if args.out:
        output_folder(Path(args.out), "--out")
    if args.strip:
        seed = STRIP_SEED if args.seed is None else args.seed
        print(f"wrote {save_strip(args.strip, seed)}")
    if args.out:
        start = time.perf_counter()
        try:  # bad settings (as the train command reports them): a line, exit status 1
            config = DatasetConfig(
                videos=args.videos,
                frames=args.frames,
                seed=args.seed or 0,
                faces=args.faces,
                val_ratio=args.val_ratio,
                size=args.size,
                fps=args.fps,
                crop_size=args.crop_size,
            )
            manifest = write_dataset(args.out, config, args.workers)
        except ValueError as err:
            print(f"affect-perception synth: {err}", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - start
        total = config.videos * config.frames
        print(
            f"wrote {len(manifest.videos)} face videos ({total} frames) to {args.out} in "
            f"{seconds:.1f} s ({total / seconds:.0f} frames/s)"
        )
    return 0
