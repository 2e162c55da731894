"""Short videos made from one real face photo: the person holds still, the camera moves.

No face video ships in any package, so the real-face checks film stills: each frame places the
photo on a canvas through a small similarity warp (hand-held camera jitter), and a clip kind adds
one change on top (a slow zoom, a lighting ramp, or the mirrored photo). The face itself never
moves, so any change in the model's outputs over such a clip is the model's, not the person's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLIP_KINDS = ("still", "zoom", "lighting", "mirror")
# Hand-held jitter: shift in pixels and rotation in degrees (standard deviations, per frame).
JITTER_PX = 1.5
JITTER_DEG = 0.5
# Range of the slow zoom and of the lighting ramp over a clip (multipliers).
ZOOM_RANGE = (0.85, 1.15)
GAIN_RANGE = (0.8, 1.2)
# Canvas grey where the warped photo does not reach.
BACKGROUND = 40


@dataclass(frozen=True)
class ClipSpec:
    """How to film one still.

    Attributes:
        kind: one of ``CLIP_KINDS``.
        frames: frames in the clip.
        seed: seed of the jitter (the same spec gives the same frames).
        size: (width, height) of each frame.
        face_height: height the photo is scaled to on the canvas, pixels.
        jitter: multiplier of the hand-held jitter (0: a camera on a tripod).
        offset: (x, y) shift of the photo on the canvas, pixels.
        gain: brightness multiplier of every frame (on top of a lighting ramp).
    """

    kind: str = "still"
    frames: int = 60
    seed: int = 0
    size: tuple[int, int] = (640, 480)
    face_height: int = 360
    jitter: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    gain: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CLIP_KINDS:
            raise ValueError(f"clip kind must be one of {CLIP_KINDS}, got {self.kind!r}")
        if self.frames < 1:
            raise ValueError(f"a clip needs at least 1 frame, got {self.frames}")


def _ramp(frames: int, low: float, high: float) -> np.ndarray:
    """``frames`` values from ``low`` to ``high``."""
    return np.linspace(low, high, frames) if frames > 1 else np.array([(low + high) / 2])


def frame_warps(photo_shape: tuple[int, ...], spec: ClipSpec) -> list[tuple[np.ndarray, float]]:
    """(2×3 affine from the photo, as mirrored for a ``mirror`` clip, to the frame; brightness
    gain) of every frame of ``spec`` for a photo of ``photo_shape`` (H, W, ...)."""
    rng = np.random.default_rng(spec.seed)
    width, height = spec.size
    base = spec.face_height / photo_shape[0]
    zoom = _ramp(spec.frames, *ZOOM_RANGE) if spec.kind == "zoom" else np.ones(spec.frames)
    gain = _ramp(spec.frames, *GAIN_RANGE) if spec.kind == "lighting" else np.ones(spec.frames)
    centre = (photo_shape[1] / 2, photo_shape[0] / 2)
    warps = []
    for i in range(spec.frames):
        shift = rng.normal(0, JITTER_PX, 2) * spec.jitter + spec.offset
        angle = rng.normal(0, JITTER_DEG) * spec.jitter
        matrix = cv2.getRotationMatrix2D(centre, angle, base * zoom[i])
        matrix[:, 2] += (width / 2 - centre[0] + shift[0], height / 2 - centre[1] + shift[1])
        warps.append((matrix, float(gain[i] * spec.gain)))
    return warps


def make_clip(photo: np.ndarray, spec: ClipSpec) -> list[np.ndarray]:
    """Film ``photo`` (H×W×3 uint8 RGB, or H×W grey) as ``spec`` says; RGB uint8 frames."""
    if photo.ndim == 2:
        photo = cv2.cvtColor(photo, cv2.COLOR_GRAY2RGB)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"photo must be H×W×3 uint8, got {photo.shape} {photo.dtype}")
    if spec.kind == "mirror":
        photo = photo[:, ::-1]
    photo = np.ascontiguousarray(photo)
    clip = []
    for matrix, gain in frame_warps(photo.shape, spec):
        frame = cv2.warpAffine(
            photo, matrix, spec.size, flags=cv2.INTER_LINEAR, borderValue=(BACKGROUND,) * 3
        )
        clip.append(np.clip(frame * gain, 0, 255).astype(np.uint8))
    return clip
