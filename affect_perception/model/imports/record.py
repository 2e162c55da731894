"""What an imported model rests on: the ``provenance`` entry of model.json and a model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from affect_perception.labels import AU_NAMES, EMI_NAMES, TASKS, VA_NAMES
from affect_perception.model.imports.paper import PaperModel
from affect_perception.model.imports.reading import WeightFile

# The outputs of each head, named as in the messages.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "va": VA_NAMES, "au": AU_NAMES, "emi": EMI_NAMES, "ah": ("hesitancy",)}
ABSENT = "absent: the imported checkpoint has no head for it (value NaN, decision false)"
CARD_FILE = "MODEL_CARD.md"


def source_line(weights: WeightFile, fmt: str) -> str:
    """``imported from <sha256>, format <fmt>``."""
    return f"imported from {weights.sha256}, format {fmt}"


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready entries of a checkpoint's hyper-parameters or arguments."""
    return {k: v for k, v in values.items()
            if isinstance(v, (str, int, float, bool)) or v is None}


def paper_provenance(weights: WeightFile, paper: PaperModel) -> dict[str, Any]:
    """model.json's ``provenance`` for a model imported from the paper's layout."""
    taught = (f"unknown to us: imported weights whose checkpoint says task {paper.task} "
              f"(the paper's code trains {paper.task} on Aff-Wild2 {paper.task} labels); "
              "not checked here")
    head = paper.config.tasks[0]
    return {
        "source": source_line(weights, "paper"),
        "file": weights.path.name,
        "sha256": weights.sha256,
        "format": "paper",
        "checkpoint_task": paper.task,
        "state_key": weights.state_key or None,
        "hyper_parameters": plain(weights.hyper_parameters),
        "absent_heads": [t for t in TASKS if t != head],
        "outputs": {name: taught if task == head else ABSENT
                    for task in TASKS for name in OUTPUTS[task]},
    }


def backbone_provenance(weights: WeightFile, dropped: list[str],
                        input_size: int | None) -> dict[str, Any]:
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


def write_card(model_dir: Path, provenance: dict[str, Any], window: int, variant: str) -> Path:
    """A MODEL_CARD.md for an imported paper model."""
    present = [n for n, v in provenance["outputs"].items() if v != ABSENT]
    absent = [n for n, v in provenance["outputs"].items() if v == ABSENT]
    card = model_dir / CARD_FILE
    card.write_text(
        "# Imported model card\n\n"
        f"- **Source:** {provenance['source']} (file `{provenance['file']}`, "
        f"{provenance['checkpoint_task']} model of the paper's code, `{variant}` variant, "
        f"window {window}).\n"
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
        "1e-5, on random weights); the export compared onnxruntime with torch.\n")
    return card
