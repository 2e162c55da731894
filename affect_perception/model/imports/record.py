"""What an imported model rests on: model.json's ``provenance`` and ``imported_from`` entries
and a model card.

``provenance`` has the shape every model folder's has, ``{task: {output: source}}`` for the
tasks the model has; an imported output's source is ``unknown``. ``imported_from`` says where
the weights came from (``imported from <sha256>, format paper``), what the checkpoint says
about them and which heads it lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from affect_perception.labels import TASKS
from affect_perception.model.imports.paper import PaperModel
from affect_perception.model.imports.reading import WeightFile
from affect_perception.provenance import OUTPUTS

IMPORT_KEY = "imported_from"
CARD_FILE = "MODEL_CARD.md"


def source_line(weights: WeightFile, fmt: str) -> str:
    """``imported from <sha256>, format <fmt>``."""
    return f"imported from {weights.sha256}, format {fmt}"


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready entries of a checkpoint's hyper-parameters or arguments: scalars and
    lists of scalars (such as train.py's ``mean`` and ``std``)."""

    def scalar(v: Any) -> bool:
        return isinstance(v, (str, int, float, bool)) or v is None

    return {
        k: list(v) if isinstance(v, (list, tuple)) else v
        for k, v in values.items()
        if scalar(v) or (isinstance(v, (list, tuple)) and all(map(scalar, v)))
    }


def paper_record(weights: WeightFile, paper: PaperModel) -> dict[str, Any]:
    """model.json's ``imported_from`` for a model imported from the paper's layout."""
    return {
        "source": source_line(weights, "paper"),
        "file": weights.path.name,
        "sha256": weights.sha256,
        "format": "paper",
        "checkpoint_task": paper.task,
        "state_key": weights.state_key or None,
        "hyper_parameters": plain(weights.hyper_parameters),
        "taught_on": (
            f"unknown to us: the checkpoint says task {paper.task} (the paper's "
            f"code trains it on Aff-Wild2 {paper.task} labels); not checked here"
        ),
        "absent_heads": [t for t in TASKS if t not in paper.config.tasks],
    }


def backbone_provenance(
    weights: WeightFile, dropped: list[str], input_size: int | None
) -> dict[str, Any]:
    """The record beside imported backbone weights."""
    return {
        "source": source_line(weights, "timm"),
        "file": weights.path.name,
        "sha256": weights.sha256,
        "format": "timm",
        "state_key": weights.state_key or None,
        "dropped_head": dropped,
        "trained_input_size": input_size,
        "taught_on": "unknown to us: as the checkpoint's args say, not checked here",
        "args": plain(weights.args),
    }


def write_card(model_dir: Path, record: dict[str, Any], paper: PaperModel) -> Path:
    """A MODEL_CARD.md for an imported paper model."""
    present = [o for t in paper.config.tasks for o in OUTPUTS[t]]
    absent = [o for t in record["absent_heads"] for o in OUTPUTS[t]]
    card = model_dir / CARD_FILE
    card.write_text(
        "# Imported model card\n\n"
        f"- **Source:** {record['source']} (file `{record['file']}`, {paper.task} model of "
        f"the paper's code, `{paper.config.variant}` variant, window {paper.config.window}).\n"
        f"- **Outputs present:** {', '.join(present)}. What they were taught on is unknown "
        "to us: the checkpoint says its task, and the paper's code trains it on Aff-Wild2 "
        "(cropped and aligned faces, 112 px scaled to 224); nothing of that is checked here.\n"
        f"- **Outputs absent** (NaN in every message, their decisions false): "
        f"{', '.join(absent)}.\n"
        "- **Differences from where it was trained:** this runtime aligns crops from the face "
        "detector's keypoints, not Aff-Wild2's aligner, and uses the window's estimate for "
        "its newest frame (their code gives it to every frame of the window).\n"
        "- **Equal to the original:** the weights are rearranged, not retrained "
        "(`test/test_import_weights.py` checks equal outputs of the two layouts, within "
        "1e-5, on random weights); the export compared onnxruntime with torch.\n"
    )
    return card
