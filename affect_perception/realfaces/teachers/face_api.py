"""face-api's expression model (``@vladmandic/face-api``, MIT) in numpy.

A 112×112 RGB face crop goes through four dense blocks of depthwise-separable convolutions
(the first one a plain convolution), a 7×7 average pool and one fully connected layer to 7
expression classes. The layer layout follows the package's ``src/faceFeatureExtractor`` and
``src/faceExpressionNet``; the weights are its uint8-quantised ``face_expression_model``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from affect_perception.realfaces.teachers.tfjs import (
    check_crops,
    conv2d,
    depthwise_conv2d,
    load_weights,
    pool,
    softmax,
)

# Class order of the model's output.
CLASSES = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
INPUT_SIZE = 112
MEAN_RGB = np.array([122.782, 117.001, 104.298], np.float32)
MANIFEST = "face_expression_model-weights_manifest.json"


class FaceApiExpression:
    """The expression net: ``probabilities(crops)`` for (n, 112, 112, 3) RGB 0..255 crops."""

    classes = CLASSES
    input_size = INPUT_SIZE
    grey = False

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        self.w = load_weights(json.loads((folder / MANIFEST).read_text()), folder)

    def _separable(self, x: np.ndarray, name: str, stride: int) -> np.ndarray:
        x = depthwise_conv2d(x, self.w[f"{name}/depthwise_filter"], stride, "SAME")
        return conv2d(x, self.w[f"{name}/pointwise_filter"], 1, "SAME") + self.w[f"{name}/bias"]

    def _dense_block(self, x: np.ndarray, block: str, first: bool) -> np.ndarray:
        if first:
            out1 = (
                conv2d(x, self.w[f"{block}/conv0/filters"], 2, "SAME")
                + self.w[f"{block}/conv0/bias"]
            )
        else:
            out1 = self._separable(x, f"{block}/conv0", 2)
        out1 = np.maximum(out1, 0)
        out2 = self._separable(out1, f"{block}/conv1", 1)
        out3 = self._separable(np.maximum(out1 + out2, 0), f"{block}/conv2", 1)
        out4 = self._separable(np.maximum(out1 + out2 + out3, 0), f"{block}/conv3", 1)
        return np.maximum(out1 + out2 + out3 + out4, 0)

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """(n, 7) logits for (n, 112, 112, 3) float RGB crops in 0..255."""
        crops = check_crops(crops, INPUT_SIZE)
        x = (crops - MEAN_RGB) / np.float32(255)
        for i in range(4):
            x = self._dense_block(x, f"dense{i}", first=i == 0)
        x = pool(x, (7, 7), 2, "VALID", "avg").reshape(len(crops), -1)
        return x @ self.w["fc/weights"] + self.w["fc/bias"]

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(n, 7) class probabilities, order :data:`CLASSES`."""
        return softmax(self.logits(crops))
