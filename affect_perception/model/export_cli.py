"""`affect-perception export`: write encoder.onnx, temporal.onnx and model.json for a model."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from affect_perception import provenance
from affect_perception.model.config import VARIANT_SCALES, ModelConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export options to ``parser``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint directory (config.json + model.safetensors) or .pt",
    )
    source.add_argument(
        "--random-init",
        action="store_true",
        help="export an untrained model (tests and benchmarks)",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument(
        "--variant",
        choices=list(VARIANT_SCALES),
        help="with --random-init: feature scales used (default: config default)",
    )
    parser.add_argument(
        "--window",
        type=int,
        help="with --random-init: frames per window (default: config default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="with --random-init: weight seed")
    parser.add_argument(
        "--fp16", action="store_true", help="also write encoder_fp16.onnx and temporal_fp16.onnx"
    )
    parser.add_argument(
        "--taught-on",
        choices=provenance.SOURCES,
        help="with --checkpoint: what every output was taught on, written to "
        "model.json's provenance (default: unknown; a random-init model "
        "is untrained)",
    )


def run(args: argparse.Namespace) -> int:
    """Build or load the model, export and check it; 0 on success, 1 on a user error."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # imported here so that `--help` stays quick
    import torch

    from affect_perception.model.affect_model import AffectModel
    from affect_perception.model.checkpoint import CheckpointError, load_checkpoint
    from affect_perception.model.export import ExportError, export_onnx
    from affect_perception.model_files import ENCODER_FILE, MODEL_JSON, TEMPORAL_FILE

    chosen = {
        k: v for k, v in (("variant", args.variant), ("window", args.window)) if v is not None
    }
    try:
        if args.checkpoint is not None:
            if chosen:
                raise ValueError(
                    f"--{'/--'.join(chosen)} come from the checkpoint's config: "
                    "leave them out with --checkpoint"
                )
            model = load_checkpoint(args.checkpoint)
            taught_on = args.taught_on or provenance.UNKNOWN
        else:
            if args.taught_on:
                raise ValueError(
                    "--taught-on is for --checkpoint: a random-init model is untrained"
                )
            torch.manual_seed(args.seed)
            model = AffectModel(ModelConfig(**chosen))
            taught_on = provenance.UNTRAINED
        out = export_onnx(model, args.out, fp16=args.fp16, taught_on=taught_on)
    except (CheckpointError, ExportError, ValueError) as err:
        print(f"affect-perception export: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {ENCODER_FILE}, {TEMPORAL_FILE} and {MODEL_JSON}"
        f"{' (and float16 copies)' if args.fp16 else ''} to {out}"
    )
    return 0
