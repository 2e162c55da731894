"""YuNet face detector through ``cv2.FaceDetectorYN``, from a user-supplied ONNX file.

No package ships the YuNet model, so ``DetectorConfig.model_path`` must name one (OpenCV
Zoo's ``face_detection_yunet_2023mar.onnx``, for instance). YuNet's five landmarks fill our six
keypoint slots: right eye, left eye, nose tip, the mean of the mouth corners as the mouth
centre; the ears are NaN.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from affect_perception.detections import NUM_KEYPOINTS, Detections
from affect_perception.runtime.detection.base import DetectorConfig, ResizingDetector

# Most candidate boxes YuNet keeps before NMS.
TOP_K = 5000
# Input size the detector is created with; detect() resets it to each frame's size.
INITIAL_SIZE = (320, 320)


class YuNetDetector(ResizingDetector):
    """YuNet face detector; see :class:`DetectorConfig` for its settings."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        if not config.model_path:
            raise ValueError(
                "the yunet backend needs model_path= a YuNet ONNX file "
                "(no package ships one); or use backend 'blazeface'"
            )
        path = Path(config.model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"YuNet model {path} not found: pass model_path= an existing YuNet ONNX file"
            )
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", INITIAL_SIZE, config.score_threshold, config.nms_iou, TOP_K
            )
            # OpenCV loads any ONNX graph; one blank frame shows whether it is a YuNet model
            self._net.detect(np.zeros((*INITIAL_SIZE[::-1], 3), np.uint8))
        except cv2.error as err:
            raise ValueError(f"OpenCV could not load {path} as a YuNet model: {err}") from None

    def _detect(self, rgb: np.ndarray, scale: float) -> Detections:
        height, width = rgb.shape[:2]
        self._net.setInputSize((width, height))
        _, faces = self._net.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        # rows: x, y, w, h, 5 landmarks (x, y), score
        faces = np.zeros((0, 15), np.float32) if faces is None else faces.reshape(-1, 15)
        landmarks = faces[:, 4:14].reshape(-1, 5, 2)
        keypoints = np.full((len(faces), NUM_KEYPOINTS, 2), np.nan, np.float32)
        keypoints[:, :3] = landmarks[:, :3]
        keypoints[:, 3] = landmarks[:, 3:5].mean(axis=1)
        xyxy = np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:4]], axis=1)
        return Detections(xyxy=xyxy, score=faces[:, 14], keypoints=keypoints)
