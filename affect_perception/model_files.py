"""The model-file contract between export and runtime, in one place (torch-free).

A model folder holds ``encoder.onnx``, ``temporal.onnx`` and ``model.json`` (docs/ARCHITECTURE.md):
the file names per precision, the metadata keys both ONNX files carry, reading and writing
those keys and model.json, and whether a folder is a model folder. ``model/export.py`` and
``model/quantize.py`` write through this module; ``runtime/engine.py`` and everything else
that reads a model folder read through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the ONNX helpers only touch the proto's fields: no onnx import here
    import onnx

ENCODER_FILE = "encoder.onnx"
TEMPORAL_FILE = "temporal.onnx"
MODEL_JSON = "model.json"
# The two graphs every model folder has (the fp32 pair).
MODEL_FILES = (ENCODER_FILE, TEMPORAL_FILE)
# Precision -> (encoder file, temporal file): `export --fp16` writes the float16 pair,
# `quantize` the INT8 encoder (static quantisation; the temporal model stays float32).
PRECISION_FILES: dict[str, tuple[str, str]] = {
    "fp32": MODEL_FILES,
    "fp16": ("encoder_fp16.onnx", "temporal_fp16.onnx"),
    "int8": ("encoder_int8.onnx", TEMPORAL_FILE),
}
PRECISIONS = tuple(PRECISION_FILES)
# How to make the files of a precision other than fp32.
PRECISION_HINT = {
    "fp16": "`affect-perception export --fp16`",
    "int8": "`affect-perception quantize --model-dir <folder>`",
}
# Metadata keys every model file carries, and model.json too; lists are JSON text in ONNX.
METADATA_KEYS = (
    "model_id",
    "variant",
    "window",
    "time_patch",
    "tasks",
    "au_names",
    "emi_names",
    "feature_names",
    "input_size",
    "mean",
    "std",
)


def missing_model_files(folder: Path) -> list[str]:
    """The model files (``encoder.onnx``, ``temporal.onnx``) that ``folder`` lacks."""
    return [name for name in MODEL_FILES if not (Path(folder) / name).is_file()]


def is_model_dir(folder: Path) -> bool:
    """``folder`` holds both graphs of a model."""
    return not missing_model_files(folder)


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """An ONNX model's metadata_props as a dict (values as written: lists are JSON text)."""
    return {p.key: p.value for p in model.metadata_props}


def write_metadata(model: onnx.ModelProto, metadata: dict[str, Any]) -> None:
    """Replace an ONNX model's metadata_props (non-string values as JSON text)."""
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)


def read_model_json(model_dir: Path) -> dict[str, Any]:
    """The parsed model.json of ``model_dir`` (empty when the folder has none)."""
    path = Path(model_dir) / MODEL_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def write_model_json(model_dir: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as ``model_dir``'s model.json; its path."""
    path = Path(model_dir) / MODEL_JSON
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path
