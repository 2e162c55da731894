"""The teachers run by their original TensorFlow.js code under node: the parity reference.

``tfjs_reference.js`` (next to this module) loads a model with ``@tensorflow/tfjs`` (cpu
backend) from the check set's node folder and writes its outputs; :func:`run_reference` feeds
it an input array and reads them back. Used by the parity test, never at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).with_name("tfjs_reference.js")
# Longest wait for one reference run, seconds.
NODE_TIMEOUT_S = 300


def node_missing_reason(node_modules: Path, node: str = "node") -> str | None:
    """Why the reference cannot run here (None when it can)."""
    if shutil.which(node) is None:
        return f"`{node}` (Node.js) is not installed"
    if not (Path(node_modules) / "@tensorflow" / "tfjs").is_dir():
        return (
            f"@tensorflow/tfjs is not installed in {node_modules}: run "
            "`python -m affect_perception.realfaces.checkset fetch`"
        )
    return None


def run_reference(
    job: dict, x: np.ndarray, node_modules: Path, node: str = "node"
) -> list[np.ndarray]:
    """Outputs of the original model for input ``x``.

    Args:
        job: ``{"kind": "graph", "model": model.json, "outputs": [names]}`` or
            ``{"kind": "face_api", "model": manifest.json, "face_api": face-api.node-wasm.js}``.
        x: the network input (float32).
        node_modules: folder holding ``@tensorflow/tfjs``.

    Raises:
        RuntimeError: node failed; its message is included.
    """
    x = np.ascontiguousarray(x, np.float32)
    with tempfile.TemporaryDirectory(prefix="affect_perception_tfjs_") as tmp:
        folder = Path(tmp)
        (folder / "input.bin").write_bytes(x.tobytes())
        spec = {
            **{k: str(v) if isinstance(v, Path) else v for k, v in job.items()},
            "input": str(folder / "input.bin"),
            "shape": list(x.shape),
            "out": str(folder / "out.json"),
        }
        (folder / "job.json").write_text(json.dumps(spec))
        env = {**os.environ, "NODE_PATH": str(node_modules)}
        result = subprocess.run(
            [node, str(SCRIPT), str(folder / "job.json")],
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_S,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"tfjs reference failed: {result.stderr.strip()[-2000:]}")
        values = json.loads((folder / "out.json").read_text())["outputs"]
    return [np.asarray(v, np.float32) for v in values]
