"""``affect-perception realcheck``: measure a model on the real-face check set.

Writes realcheck.json, realcheck.md and realcheck_faces.png (the faces with the model's and the
teachers' outputs) into ``--out``; ``--write-model`` also puts the summary into the model
folder (model.json ``real_face_evidence`` and a MODEL_CARD.md section). Needs the check set
(`python -m affect_perception.realfaces.checkset fetch`, run by scripts/setup.sh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from affect_perception.cli_errors import InputError, output_folder
from affect_perception.cli_options import add_model_option, chosen_model
from affect_perception.realfaces.checkset import PHOTOS
from affect_perception.realfaces.clips import CLIP_KINDS


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``realcheck`` options."""
    add_model_option(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for the report")
    parser.add_argument(
        "--photos",
        type=_names,
        default=PHOTOS,
        help=f"comma-separated check-set photos (default all: {','.join(PHOTOS)})",
    )
    parser.add_argument(
        "--clip-photos",
        type=_names,
        default=PHOTOS,
        help="photos filmed as clips for track ids and still-face hesitancy (default all)",
    )
    parser.add_argument(
        "--clip-kinds",
        type=_names,
        default=CLIP_KINDS,
        help=f"clip kinds (default {','.join(CLIP_KINDS)})",
    )
    parser.add_argument("--frames", type=int, default=60, help="frames per clip")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clips' jitter")
    parser.add_argument(
        "--no-teachers", action="store_true", help="skip the teachers (no agreement section)"
    )
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    parser.add_argument(
        "--write-model",
        action="store_true",
        help="also write the summary into the model folder (model.json "
        "real_face_evidence, MODEL_CARD.md section)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the check; a bad input raises InputError (one line on stderr, exit code 2)."""
    from affect_perception.realfaces.realcheck import RealcheckConfig, run_realcheck
    from affect_perception.realfaces.report import write_report, write_to_model

    try:
        out = output_folder(args.out, "--out")
        model_dir = chosen_model(args.model)
        config = RealcheckConfig(
            model_dir=model_dir,
            photos=args.photos,
            clip_photos=args.clip_photos,
            clip_kinds=args.clip_kinds,
            frames=args.frames,
            seed=args.seed,
            teachers=not args.no_teachers,
            threads=args.threads,
        )
        report, faces, photos = run_realcheck(config)
        paths = write_report(report, faces, photos, out)
        if args.write_model:
            write_to_model(report, model_dir)
    except (ValueError, OSError) as err:
        raise InputError(str(err)) from None
    group = report["detection"]["check_threshold"]
    print(
        f"{report['faces']} faces; group photos: {group['group_found']}/"
        f"{group['group_faces']} found; id churn {report['ids']['churn']}; still-face "
        f"hesitancy {report['still_face_hesitancy']['share']}"
    )
    for path in paths:
        print(path)
    return 0
