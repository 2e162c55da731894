"""Upright square face crops: one affine warp per face, and the encoder's input normalisation.

Each crop is a square around the face box (its longer side plus a margin on every side),
rotated so the eyes lie level when the detector gives eye keypoints (axis-aligned otherwise),
and resized to ``size`` × ``size`` in the same warp. :func:`alignment_transforms` returns the
frame-to-crop affines, so keypoints and labels map into crop space with
:func:`transform_points`.
"""

from __future__ import annotations

import cv2
import numpy as np

from affect_perception.detections import Detections

# Crop side in pixels (the encoder's input size).
CROP_SIZE = 224
# Context added on each side of the face box, as a fraction of the box's longer side; BlazeFace
# boxes run from the brows to the chin, so 0.25 brings in the forehead, ears and jaw line.
MARGIN = 0.25
# Keypoint slots of the right and left eye (BlazeFace order).
RIGHT_EYE, LEFT_EYE = 0, 1
# How pixels outside the frame are filled.
BORDERS = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}


def alignment_transforms(
    detections: Detections, size: int = CROP_SIZE, margin: float = MARGIN
) -> np.ndarray:
    """(n, 2, 3) float32 affines taking frame pixels to crop pixels, one per face.

    Args:
        detections: faces; eye keypoints (slots 0 and 1) set the roll when both are finite.
        size: crop side in pixels.
        margin: context on each side, as a fraction of the box's longer side.
    """
    if size <= 0 or margin < 0:
        raise ValueError(f"size must be > 0 and margin >= 0, got size={size}, margin={margin}")
    boxes = detections.xyxy.astype(np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = np.maximum(detections.wh.max(axis=1).astype(np.float64), 1.0) * (1 + 2 * margin)
    eyes = detections.keypoints[:, LEFT_EYE] - detections.keypoints[:, RIGHT_EYE]
    angle = np.arctan2(eyes[:, 1], eyes[:, 0]).astype(np.float64)
    angle[~np.isfinite(angle)] = 0.0
    # rotate by -angle about the centre, scale to the crop, move the centre to the crop's
    cos, sin = np.cos(angle) * size / side, np.sin(angle) * size / side
    transforms = np.empty((len(boxes), 2, 3), np.float64)
    transforms[:, 0] = np.stack([cos, sin, size / 2 - cos * centre[:, 0] - sin * centre[:, 1]], 1)
    transforms[:, 1] = np.stack([-sin, cos, size / 2 + sin * centre[:, 0] - cos * centre[:, 1]], 1)
    return transforms.astype(np.float32)


def transform_points(transforms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply (n, 2, 3) affines to (n, k, 2) points, face by face."""
    return points @ transforms[:, :, :2].transpose(0, 2, 1) + transforms[:, None, :, 2]


def align_faces(
    rgb: np.ndarray,
    detections: Detections,
    size: int = CROP_SIZE,
    margin: float = MARGIN,
    border: str = "constant",
) -> np.ndarray:
    """Upright crops of every face.

    Args:
        rgb: (H, W, 3) uint8 frame.
        detections: faces in ``rgb``'s pixels (from any detector or ground truth).
        size: crop side in pixels.
        margin: context on each side, as a fraction of the box's longer side.
        border: ``"constant"`` (black) or ``"replicate"`` for crop pixels outside the frame.

    Returns:
        (n, size, size, 3) uint8 RGB crops.
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {sorted(BORDERS)}, got {border!r}")
    crops = np.empty((len(detections), size, size, 3), np.uint8)
    for crop, transform in zip(crops, alignment_transforms(detections, size, margin), strict=True):
        cv2.warpAffine(
            rgb,
            transform,
            (size, size),
            dst=crop,
            flags=cv2.INTER_LINEAR,
            borderMode=BORDERS[border],
        )
    return crops


def normalize(
    crops: np.ndarray, mean: np.ndarray | list[float], std: np.ndarray | list[float]
) -> np.ndarray:
    """(n, H, W, 3) uint8 crops -> (n, 3, H, W) float32 ``(x / 255 - mean) / std``.

    ``mean`` and ``std`` (per RGB channel) come from the model's metadata.
    """
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[3] != 3:
        raise ValueError(f"crops must be (n, H, W, 3), got {crops.shape}")
    mean = np.broadcast_to(np.asarray(mean, np.float32), 3)
    std = np.broadcast_to(np.asarray(std, np.float32), 3)
    if not np.all(std > 0):
        raise ValueError(f"std must be positive, got {std.tolist()}")
    planar = np.ascontiguousarray(crops.transpose(0, 3, 1, 2)).astype(np.float32)
    planar *= (1 / (255 * std))[:, None, None]  # in place: 9× faster than out of place
    planar -= (mean / std)[:, None, None]
    return planar
