"""MediaPipe BlazeFace (short-range front 128×128 / back 256×256 models) in onnxruntime.

The frame is letterboxed to a square (black bars, centred) and resized to the model input.
The model scores 896 SSD anchors and regresses, per anchor, a box centre and size and 6
keypoints as offsets in input pixels; anchors above the score threshold go through NMS and are
mapped back to frame pixels. Keypoint order: right eye, left eye, nose tip, mouth centre,
right ear, left ear (the person's right: the image's left for a face looking at the camera).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from affect_perception.detections import NUM_KEYPOINTS, Detections
from affect_perception.runtime.assets import blazeface_model_path
from affect_perception.runtime.detection.base import DetectorConfig, ResizingDetector
from affect_perception.runtime.detection.nms import nms, weighted_nms
from affect_perception.runtime.ort_options import session_options

# MediaPipe's SSD anchor strides per model input size; each stride adds two anchors per cell
# and consecutive equal strides share a grid: 16×16×2 + 8×8×6 = 896 anchors for both models.
ANCHOR_STRIDES: dict[int, tuple[int, ...]] = {128: (8, 16, 16, 16), 256: (16, 32, 32, 32)}
ANCHORS_PER_STRIDE = 2

# Pixel scaling into the model: these Barracuda conversions take RGB in [0, 1]. Measured on
# skimage's astronaut/camera/chelsea/coffee and lfw_subset (100 faces, 100 non-faces): [0, 1]
# separates faces from non-faces better than MediaPipe's [-1, 1] (median non-face score 0.07
# against 0.20 with the back model) at equal face scores.
INPUT_SCALE = 1.0 / 255.0

# Values per anchor in the regressor output: box centre x, y, width, height, then x, y of each
# keypoint.
REGRESSION_SIZE = 4 + 2 * NUM_KEYPOINTS


def ssd_anchors(input_size: int, strides: tuple[int, ...]) -> np.ndarray:
    """(n, 2) anchor centres in [0, 1] of the input, in the model's output order."""
    centres = []
    for stride in dict.fromkeys(strides):  # unique strides, in order
        per_cell = ANCHORS_PER_STRIDE * strides.count(stride)
        grid = input_size // stride
        ys, xs = np.mgrid[:grid, :grid]
        cells = np.stack([xs + 0.5, ys + 0.5], axis=-1).reshape(-1, 2) / grid
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


class BlazeFaceDetector(ResizingDetector):
    """BlazeFace face detector; see :class:`DetectorConfig` for its settings."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        path = (
            Path(config.model_path) if config.model_path else blazeface_model_path(config.variant)
        )
        options = session_options(config.threads)
        options.log_severity_level = 3  # the files carry unused initialisers ORT warns about
        self._session = ort.InferenceSession(str(path), options, providers=list(config.providers))
        self._input = self._session.get_inputs()[0]
        shape = self._input.shape
        self._nchw = shape[1] == 3
        self.input_size = int(shape[2] if self._nchw else shape[1])
        if self.input_size not in ANCHOR_STRIDES:
            raise ValueError(
                f"{path}: input {shape} is not a BlazeFace 128×128 or 256×256 "
                "input; use the front or back model"
            )
        self._anchors = ssd_anchors(self.input_size, ANCHOR_STRIDES[self.input_size])
        self._scores, self._boxes = self._outputs(path)
        threshold = config.score_threshold
        self._logit_threshold = float(np.log(threshold / (1 - threshold)))

    def _outputs(self, path: Path) -> tuple[list[str], list[str]]:
        """Names of the score and regressor outputs, largest head (finest grid) first,
        checked against the anchors."""
        outputs = sorted(self._session.get_outputs(), key=lambda o: -o.shape[1])
        scores = [o for o in outputs if o.shape[-1] == 1]
        boxes = [o for o in outputs if o.shape[-1] == REGRESSION_SIZE]
        counts = [o.shape[1] for o in scores]
        if counts != [o.shape[1] for o in boxes] or sum(counts) != len(self._anchors):
            raise ValueError(
                f"{path}: outputs {[(o.name, o.shape) for o in outputs]} do not match the "
                f"{len(self._anchors)} anchors of a {self.input_size}×{self.input_size} "
                "BlazeFace model"
            )
        return [o.name for o in scores], [o.name for o in boxes]

    def _letterbox(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model input tensor, and the (x, y) scale and offset from frame to input pixels."""
        height, width = rgb.shape[:2]
        size = self.input_size
        fit = size / max(height, width)
        new_w, new_h = max(1, round(width * fit)), max(1, round(height * fit))
        left, top = (size - new_w) // 2, (size - new_h) // 2
        interpolation = cv2.INTER_AREA if fit < 1 else cv2.INTER_LINEAR
        canvas = np.zeros((size, size, 3), np.float32)
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
        canvas[top : top + new_h, left : left + new_w] = resized * np.float32(INPUT_SCALE)
        tensor = canvas.transpose(2, 0, 1) if self._nchw else canvas
        scale = np.array([new_w / width, new_h / height], np.float32)
        return tensor[None], scale, np.array([left, top], np.float32)

    def _detect(self, rgb: np.ndarray, scale: float) -> Detections:
        tensor, scale, offset = self._letterbox(rgb)
        outputs = self._session.run(self._scores + self._boxes, {self._input.name: tensor})
        heads = len(self._scores)
        logits = np.concatenate([o.reshape(-1) for o in outputs[:heads]])
        keep = logits > self._logit_threshold
        if not keep.any():
            return Detections.empty()
        raw = np.concatenate([o.reshape(-1, REGRESSION_SIZE) for o in outputs[heads:]])[keep]
        score = (1 / (1 + np.exp(-logits[keep].astype(np.float64)))).astype(np.float32)
        # offsets are in input pixels, anchors in [0, 1] of the input
        anchors = self._anchors[keep] * self.input_size
        centre, half = anchors + raw[:, 0:2], raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        points = anchors[:, None, :] + raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2)
        boxes = (boxes - np.tile(offset, 2)) / np.tile(scale, 2)
        points = (points - offset) / scale
        if self.config.weighted_nms:
            boxes, score, points = weighted_nms(boxes, score, points, self.config.nms_iou)
        else:
            kept = nms(boxes, score, self.config.nms_iou)
            boxes, score, points = boxes[kept], score[kept], points[kept]
        return Detections(xyxy=boxes, score=score, keypoints=points)
