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


def crop_matrix(
    centre: tuple[float, float], side: float, size: int, roll: float = 0.0
) -> np.ndarray:
    """2×3 affine from image pixels to a ``size``² crop of the ``side``-pixel square around
    ``centre``, turned by ``roll`` degrees (counter-clockwise) so a rolled face stands up."""
    matrix = cv2.getRotationMatrix2D(centre, roll, size / side)
    matrix[:, 2] += (size / 2 - centre[0], size / 2 - centre[1])
    return matrix


def crop_square(
    image: np.ndarray, centre: tuple[float, float], side: float, size: int, roll: float = 0.0
) -> np.ndarray:
    """A ``side``-pixel square around ``centre`` turned by ``roll`` degrees, resized to
    ``size``² (edges replicated; an area filter when shrinking)."""
    n = max(int(round(side)), 1)
    patch = cv2.warpAffine(
        image,
        crop_matrix(centre, n, n, roll),
        (n, n),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def face_square(box: np.ndarray, factor: float) -> tuple[tuple[float, float], float]:
    """Centre and side of the square ``factor`` × the longer side of ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return ((x1 + x2) / 2, (y1 + y2) / 2), max(x2 - x1, y2 - y1) * factor


def face_views(
    image: np.ndarray, box: np.ndarray, factor: float, size: int, roll: float = 0.0
) -> np.ndarray:
    """(6, size, size, 3) float32 views of the face in ``box``: its square (`face_square`)
    turned by ``roll`` degrees at each VIEW_SCALES, then the same mirrored."""
    centre, side = face_square(box, factor)
    crops = np.stack([crop_square(image, centre, side * s, size, roll) for s in VIEW_SCALES])
    return np.concatenate([crops, crops[:, :, ::-1]]).astype(np.float32)
