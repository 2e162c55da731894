"""Human's emotion model (``@vladmandic/human`` ``models/emotion``, MIT) in numpy.

A mini-Xception trained on FER2013 (the model's metadata names oarriaga/face_classification):
a 64×64 grey face crop, scaled to [-1, 1], gives 7 class probabilities. The grey conversion and
scaling follow the package's ``src/gear/emotion.ts``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affect_perception.realfaces.teachers.tfjs import GraphModel, check_crops

# Class order of the model's output.
CLASSES = ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
INPUT_SIZE = 64
# RGB weights of the grey conversion (Human's constants.rgb).
GREY = np.array([0.2989, 0.5870, 0.1140], np.float32)
OUTPUT = "Identity"


class HumanEmotion:
    """``probabilities(crops)`` for (n, 64, 64, 3) RGB 0..255 crops."""

    classes = CLASSES
    input_size = INPUT_SIZE

    def __init__(self, model_json: Path) -> None:
        self.graph = GraphModel(model_json)

    @staticmethod
    def preprocess(crops: np.ndarray) -> np.ndarray:
        """(n, 64, 64, 1) network input from RGB 0..255 crops."""
        crops = check_crops(crops, INPUT_SIZE)
        grey = (crops / np.float32(255) * GREY).sum(axis=3, keepdims=True)
        return (grey - np.float32(0.5)) * np.float32(2)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(n, 7) class probabilities, order :data:`CLASSES`."""
        return self.graph.run(self.preprocess(crops), [OUTPUT])[0]
