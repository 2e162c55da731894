"""`affect-perception import-weights CHECKPOINT --out DIR`: other people's weights into a
model folder (the paper code's layout) or a backbone weights file (a timm checkpoint).

paper: ``model.safetensors`` + ``config.json`` (a checkpoint of this project),
``encoder.onnx``, ``temporal.onnx``, ``model.json`` with ``provenance``, and ``MODEL_CARD.md``.
timm: ``backbone.safetensors`` (what ``train --backbone-weights`` loads) and
``backbone.json`` (its provenance).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from affect_perception.cli_errors import InputError, existing_path, output_folder
from affect_perception.provenance import UNKNOWN

if TYPE_CHECKING:
    from affect_perception.model.imports.reading import WeightFile

BACKBONE_FILE = "backbone.safetensors"
BACKBONE_RECORD = "backbone.json"
# The face crop side the paper's code trains at (its mixers are built for 28/14/7 maps).
PAPER_INPUT_SIZE = 224


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the import options to ``parser``."""
    parser.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="weights file: .pt/.pth/.ckpt/.pth.tar (read weights-only) or .safetensors",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument(
        "--format",
        metavar="paper|timm",
        help="layout of CHECKPOINT (default: detected from its keys)",
    )
    parser.add_argument(
        "--window",
        type=int,
        help="paper: the window it was trained with (default: from the "
        "checkpoint; given, it is checked against the tensors)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        help=f"paper: face crop side it was trained at (default "
        f"{PAPER_INPUT_SIZE}, as in the paper's code)",
    )
    parser.add_argument(
        "--no-ema",
        action="store_true",
        help="take 'state_dict' even where 'state_dict_ema' exists",
    )


def run(args: argparse.Namespace) -> int:
    """Import; 0 on success. Input problems raise InputError (one line, exit 2)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect_perception.model.imports.reading import detect_format, read_weight_file

    started = time.monotonic()
    out = output_folder(args.out, "--out")
    weights = read_weight_file(existing_path(args.checkpoint, "CHECKPOINT"), ema=not args.no_ema)
    fmt = detect_format(weights, args.format)
    if fmt == "paper":
        written = _import_paper(weights, out, args.window, args.input_size or PAPER_INPUT_SIZE)
    else:
        if args.window is not None or args.input_size is not None:
            raise InputError(
                "--window and --input-size describe a paper model; a timm "
                "backbone checkpoint has neither (leave them out)"
            )
        written = _import_timm(weights, out)
    print(
        f"imported {weights.path.name} (format {fmt}, sha256 {weights.sha256[:12]}…) in "
        f"{time.monotonic() - started:.1f} s: {', '.join(written)} in {out}"
    )
    return 0


def _import_paper(
    weights: WeightFile, out: Path, window: int | None, input_size: int
) -> list[str]:
    """A model folder from a paper checkpoint; the names of the files written."""
    from affect_perception.model.checkpoint import CONFIG_FILE, WEIGHTS_FILE, save_checkpoint
    from affect_perception.model.export import export_onnx
    from affect_perception.model.imports.paper import paper_to_affect_model, read_paper_model
    from affect_perception.model.imports.record import (
        CARD_FILE,
        IMPORT_KEY,
        paper_record,
        write_card,
    )
    from affect_perception.model_files import (
        ENCODER_FILE,
        MODEL_JSON,
        TEMPORAL_FILE,
        read_model_json,
        write_model_json,
    )

    paper = read_paper_model(weights, window=window, input_size=input_size)
    model = paper_to_affect_model(weights, paper)
    save_checkpoint(model, out)
    export_onnx(model, out, taught_on=UNKNOWN)  # model.json's provenance: every output unknown
    record = paper_record(weights, paper)
    write_model_json(out, {**read_model_json(out), IMPORT_KEY: record})
    write_card(out, record, paper)
    absent = ", ".join(record["absent_heads"])
    print(
        f"{paper.task} model, {paper.config.variant} variant, window {paper.config.window}: "
        f"heads not present: {absent}"
    )
    return [WEIGHTS_FILE, CONFIG_FILE, ENCODER_FILE, TEMPORAL_FILE, MODEL_JSON, CARD_FILE]


def _import_timm(weights: WeightFile, out: Path) -> list[str]:
    """A backbone weights file from a timm checkpoint; the names of the files written."""
    from affect_perception.model.imports.record import backbone_provenance
    from affect_perception.model.imports.timm_backbone import (
        backbone_state,
        save_backbone,
        trained_input_size,
    )

    state, dropped = backbone_state(weights)
    save_backbone(state, out / BACKBONE_FILE)
    record = backbone_provenance(weights, dropped, trained_input_size(weights))
    (out / BACKBONE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"{len(state)} backbone tensors from {weights.state_key or 'the state dict'}; "
        f"dropped the head ({len(dropped)} tensors); trained at input size "
        f"{record['trained_input_size'] or 'unknown'}; train with --backbone-weights "
        f"{out / BACKBONE_FILE}"
    )
    return [BACKBONE_FILE, BACKBONE_RECORD]
