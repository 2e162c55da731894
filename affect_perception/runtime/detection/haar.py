"""OpenCV Haar-cascade face detector: the fallback that needs no model file.

Frontal faces only (it misses half-turned faces BlazeFace finds), no keypoints (NaN) and no
confidence (scores are 1). Needs OpenCV 4.x: OpenCV 5 has no ``CascadeClassifier``.
"""

from __future__ import annotations

import cv2
import numpy as np

from affect_perception.detections import Detections
from affect_perception.runtime.detection.base import DetectorConfig, ResizingDetector

# Cascade file inside OpenCV's cv2.data.haarcascades folder.
CASCADE = "haarcascade_frontalface_default.xml"
# Image pyramid step: smaller finds more sizes, slower.
SCALE_FACTOR = 1.1
# Overlapping raw hits a face needs: higher drops more false faces and some true ones.
MIN_NEIGHBORS = 5
# Smallest face searched for, in frame pixels (min_face_size raises it): 40 halves the time 24
# takes on a 640×480 frame, and smaller faces carry too little detail for affect.
MIN_SIZE = 40


class HaarDetector(ResizingDetector):
    """Haar-cascade face detector; see :class:`DetectorConfig` for its settings."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise RuntimeError(
                f"the haar backend needs opencv-python(-headless) 4.x; OpenCV {cv2.__version__} "
                "has no Haar cascades: use backend 'blazeface'"
            )
        path = config.model_path or cv2.data.haarcascades + CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FileNotFoundError(
                f"could not load the Haar cascade {path}: pass model_path= a cascade XML file"
            )

    def _detect(self, rgb: np.ndarray, scale: float) -> Detections:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        side = int(max(MIN_SIZE, self.config.min_face_size) * scale)
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(side, side)
        )
        xywh = np.asarray(found, np.float32).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return Detections(xyxy=xyxy, score=np.ones(len(xyxy), np.float32))
