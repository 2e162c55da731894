"""Where the bundled demo model lives: in this checkout, or in the colcon install's share."""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_MODEL = "demo"


def bundled_model_dir(name: str = DEMO_MODEL) -> Path:
    """The folder of a model shipped with the package (``models/<name>``).

    Raises:
        FileNotFoundError: no such model in the checkout or the installed share folder.
    """
    candidates = (
        Path(__file__).resolve().parents[1] / "models" / name,
        Path(sys.prefix) / "share" / "affect_perception" / "models" / name,
    )
    for folder in candidates:
        if (folder / "encoder.onnx").is_file() and (folder / "temporal.onnx").is_file():
            return folder
    raise FileNotFoundError(
        f"bundled model {name!r} not found in " + ", ".join(map(str, candidates))
        + "; pass a model folder made by `affect-perception export` instead")
