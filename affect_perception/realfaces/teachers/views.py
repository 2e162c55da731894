"""The views a teacher sees of one face: square crops at three scales, each also mirrored.

The teachers are unstable across small changes of the crop (REAL_FACES.md: their top class
changes with scale or mirroring on about half of the faces), so each is averaged over these
six views.
"""

from __future__ import annotations

import cv2
import numpy as np

# Crop side as multiples of the teacher's base crop (the face box times its own factor).
VIEW_SCALES = (0.9, 1.0, 1.1)


def crop_square(image: np.ndarray, centre: tuple[float, float], side: float,
                size: int) -> np.ndarray:
    """A ``side``-pixel square around ``centre`` resized to ``size``² (edges replicated; an
    area filter when shrinking)."""
    n = max(int(round(side)), 1)
    shift = np.array([[1, 0, n / 2 - centre[0]], [0, 1, n / 2 - centre[1]]], np.float64)
    patch = cv2.warpAffine(image, shift, (n, n), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def face_views(image: np.ndarray, box: np.ndarray, factor: float, size: int) -> np.ndarray:
    """(6, size, size, 3) float32 views of the face in ``box`` (x1, y1, x2, y2): the square of
    side ``factor`` × the box's longer side at each VIEW_SCALES, then the same mirrored."""
    x1, y1, x2, y2 = (float(v) for v in box)
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    side = max(x2 - x1, y2 - y1) * factor
    crops = np.stack([crop_square(image, centre, side * s, size) for s in VIEW_SCALES])
    return np.concatenate([crops, crops[:, :, ::-1]]).astype(np.float32)
