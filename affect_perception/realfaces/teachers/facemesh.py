"""MediaPipe FaceMesh as shipped by ``@vladmandic/human`` (``models/facemesh``, MIT) in numpy.

A 192×192 RGB face crop scaled to [0, 1] gives 468 landmarks (x, y in crop pixels, z relative
depth) and a face-presence score.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affect_perception.realfaces.teachers.tfjs import GraphModel, check_crops

INPUT_SIZE = 192
LANDMARKS = 468
MESH_OUTPUT = "Identity_2"
FACE_OUTPUT = "Identity_1"


class FaceMesh:
    """``landmarks(crops)`` for (n, 192, 192, 3) RGB 0..255 crops."""

    input_size = INPUT_SIZE

    def __init__(self, model_json: Path) -> None:
        self.graph = GraphModel(model_json)

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 468, 3) landmarks in crop pixels and (n,) face scores."""
        crops = check_crops(crops, INPUT_SIZE)
        mesh, face = self.graph.run(crops / np.float32(255), [MESH_OUTPUT, FACE_OUTPUT])
        return mesh.reshape(len(crops), LANDMARKS, 3), face.reshape(len(crops))
