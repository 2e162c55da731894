"""Per-face quality figures and the one `reliable` decision a behaviour can trust.

For every face: its size in pixels, a frontal-ness estimate from the detector's keypoints, the
sharpness of its aligned crop, and how many frames of its temporal window were really seen
(:meth:`FeatureWindows.real_fill`). :func:`is_reliable` combines them with the thresholds of a
:class:`QualityConfig`. Pure numpy and OpenCV; :func:`face_quality` is what the pipeline calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from affect_perception.detections import Detections

# Keypoint slots (BlazeFace order): right eye, left eye, nose tip, right ear, left ear.
RIGHT_EYE, LEFT_EYE, NOSE, RIGHT_EAR, LEFT_EAR = 0, 1, 2, 4, 5
# Sideways nose offset from the eye midpoint, in eye distances, at which the nose cue calls a
# face fully turned (frontalness 0). BlazeFace on synthetic heads: 0.0 frontal, about 0.3 at
# 30 degrees of yaw, 0.45 at 45, 0.7 to 1 at 60 (frontalness 1.0, 0.6, 0.35, 0.15).
NOSE_TURNED = 1.2
# Ear asymmetry |d_right - d_left| / (d_right + d_left) (ear distances from the eye midpoint)
# at which the ear cue calls a face fully turned.
EARS_TURNED = 0.6
# Share of the aligned crop's side, around its centre, that sharpness is measured on: the face
# without the crop's margin, whose frame border (black padding) would count as edges.
SHARPNESS_CENTRE = 0.5


@dataclass
class QualityConfig:
    """Thresholds of the `reliable` decision; a face is reliable when it meets all of them.

    Attributes:
        min_face_size: shorter box side in pixels; smaller faces carry too little detail.
        min_frontalness: frontalness in [0, 1]; more turned faces are judged from one side.
            A face without keypoints (NaN frontalness) is not held to it.
        min_sharpness: variance of the Laplacian of the grey aligned crop; blurred (motion,
            focus, upscaled small faces) crops fall below it.
        min_real_frames: frames of the temporal window that were seen rather than carried over
            a detector miss (capped at the window size, so a value above it asks for all).
    """

    min_face_size: float = 40.0
    min_frontalness: float = 0.5
    min_sharpness: float = 15.0
    min_real_frames: int = 6

    def __post_init__(self) -> None:
        if self.min_face_size < 0 or self.min_sharpness < 0 or self.min_real_frames < 0:
            raise ValueError(
                "quality thresholds min_face_size, min_sharpness and "
                "min_real_frames must be >= 0, got "
                f"{self.min_face_size}, {self.min_sharpness}, "
                f"{self.min_real_frames}"
            )
        if not 0 <= self.min_frontalness <= 1:
            raise ValueError(f"min_frontalness must be in [0, 1], got {self.min_frontalness}")


def face_size(faces: Detections) -> np.ndarray:
    """(n,) float32 shorter box side in pixels."""
    return np.clip(faces.wh.min(axis=1), 0, None).astype(np.float32)


def head_pose(keypoints: np.ndarray) -> np.ndarray:
    """(n, 2) float32 nose position relative to the eye midpoint, in eye distances, along and
    across the eye line (roll removed): x is about 0 for a frontal face and grows with yaw,
    y (nose below the eyes, positive) changes with pitch. NaN without eye and nose keypoints."""
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, 6, 2)
    eyes = keypoints[:, LEFT_EYE] - keypoints[:, RIGHT_EYE]
    distance = np.linalg.norm(eyes, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        along = eyes / distance[:, None]
        across = np.stack([-along[:, 1], along[:, 0]], axis=1)
        nose = keypoints[:, NOSE] - (keypoints[:, LEFT_EYE] + keypoints[:, RIGHT_EYE]) / 2
        pose = np.stack([np.sum(nose * along, axis=1), np.sum(nose * across, axis=1)], axis=1)
        pose /= distance[:, None]
    pose[~(distance > 0)] = np.nan
    return pose.astype(np.float32)


def frontalness(keypoints: np.ndarray) -> np.ndarray:
    """(n,) float32 in [0, 1]: 1 for a frontal face, 0 for a profile; NaN without keypoints.

    The mean of two yaw cues, each 1 - (its value / its value at a full turn), clipped: the
    sideways nose offset (:func:`head_pose` x, NOSE_TURNED) and the asymmetry of the ears'
    distances from the eye midpoint (EARS_TURNED). Only the nose cue counts when a detector
    gives no ears.
    """
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, 6, 2)
    nose_cue = 1 - np.abs(head_pose(keypoints)[:, 0]) / NOSE_TURNED
    middle = (keypoints[:, LEFT_EYE] + keypoints[:, RIGHT_EYE]) / 2
    right = np.linalg.norm(keypoints[:, RIGHT_EAR] - middle, axis=1)
    left = np.linalg.norm(keypoints[:, LEFT_EAR] - middle, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ear_cue = 1 - np.abs(right - left) / (right + left) / EARS_TURNED
    cues = np.clip(np.stack([nose_cue, ear_cue], axis=1), 0, 1)
    cues[np.isnan(nose_cue)] = np.nan  # ears alone do not tell the yaw's sign from noise
    with np.errstate(invalid="ignore"):
        counted = np.isfinite(cues)
        total = np.where(counted, cues, 0).sum(axis=1)
        return (total / counted.sum(axis=1)).astype(np.float32)


def sharpness(crops: np.ndarray) -> np.ndarray:
    """(n,) float32 variance of the Laplacian of each grey (n, S, S, 3) uint8 crop's centre."""
    crops = np.asarray(crops)
    if not len(crops):
        return np.zeros(0, np.float32)
    side = crops.shape[1]
    lo = int(round(side * (1 - SHARPNESS_CENTRE) / 2))
    hi = side - lo
    out = np.empty(len(crops), np.float32)
    for i, crop in enumerate(crops):
        grey = cv2.cvtColor(crop[lo:hi, lo:hi], cv2.COLOR_RGB2GRAY)
        out[i] = cv2.Laplacian(grey, cv2.CV_32F).var()
    return out


def is_reliable(
    quality: dict[str, np.ndarray], warm: np.ndarray, window: int, config: QualityConfig
) -> np.ndarray:
    """(n,) bool: the warm faces that meet every threshold of ``config``.

    Args:
        quality: ``face_size``, ``frontalness``, ``sharpness`` and ``window_real`` arrays.
        warm: (n,) the face's temporal window is full.
        window: the window size, the cap of ``config.min_real_frames``.
        config: the thresholds.
    """
    front = quality["frontalness"]
    return (
        np.asarray(warm, bool)
        & (quality["face_size"] >= config.min_face_size)
        & (np.isnan(front) | (front >= config.min_frontalness))
        & (quality["sharpness"] >= config.min_sharpness)
        & (quality["window_real"] >= min(config.min_real_frames, window))
    )


def face_quality(
    faces: Detections, crops: np.ndarray, window_real: np.ndarray
) -> dict[str, np.ndarray]:
    """Every quality figure of the faces (not yet the decision): ``face_size``,
    ``frontalness``, ``sharpness``, ``window_real`` (int64) and ``pose`` ((n, 2), see
    :func:`head_pose`)."""
    return {
        "face_size": face_size(faces),
        "frontalness": frontalness(faces.keypoints),
        "sharpness": sharpness(crops),
        "window_real": np.asarray(window_real, np.int64).reshape(len(faces)),
        "pose": head_pose(faces.keypoints),
    }
