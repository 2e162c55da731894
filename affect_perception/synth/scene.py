"""Synthetic video frames: faces over a cluttered, panning background with nuisances.

Per video: a background of random shapes on a gradient (wider than the frame, panned
slowly), a colour tint, a light direction for the face shading, a blur and a noise level;
per frame: a flickering brightness. With several faces, the frame is cut into vertical slots,
one face each, so boxes never overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from affect_perception.synth import labels
from affect_perception.synth.face import FaceGeometry, Identity, draw_body, draw_face
from affect_perception.synth.trajectories import FaceTrack, simulate_face, smooth_noise

# Background margin in pixels on each side, room for the camera pan.
PAN_PX = 24
# Number of clutter shapes in a background.
CLUTTER = (15, 60)
# Chance that a video is blurred, and the blur's sigma range in pixels.
BLUR_CHANCE = 0.5
BLUR_SIGMA = (0.4, 1.4)
# Uniform pixel noise amplitude range (grey levels).
NOISE = (0, 10)
# Brightness gain range per video, its flicker per frame, and the colour tint per channel.
GAIN = (0.7, 1.2)
FLICKER = 0.06
TINT = (0.85, 1.15)
# Shadowed rim of the face relative to its lit centre.
SHADE = (0.62, 0.85)


@dataclass
class FaceTruth:
    """Ground truth of one face in one frame.

    Attributes:
        person: the face's id, stable over the video (its slot, 0 .. faces-1).
        box: (4,) float32 xyxy in pixels (may reach outside the frame).
        keypoints: (6, 2) float32 pixels in BlazeFace order.
        valence, arousal: in [-1, 1].
        au: (12,) int 0/1, order labels.AU_NAMES.
        emi: (6,) float in [0, 1], order labels.EMI_NAMES, from the last WINDOW frames.
        ah: int 0/1 ambivalence/hesitancy.
        visible: fraction of the box inside the frame.
        labelled: False where the face is mostly out of the frame (labels count as missing).
    """

    person: int
    box: np.ndarray
    keypoints: np.ndarray
    valence: float
    arousal: float
    au: np.ndarray
    emi: np.ndarray
    ah: int
    visible: float
    labelled: bool


@dataclass
class SynthFrame:
    """One rendered frame: index, time stamp in seconds, (H, W, 3) RGB uint8 image, faces."""

    index: int
    stamp: float
    image: np.ndarray
    faces: list[FaceTruth]


@dataclass
class FaceLabels:
    """Per-frame labels of one face for a whole video (what the dataset files hold)."""

    va: np.ndarray  # (F, 2)
    au: np.ndarray  # (F, 12) int
    emi: np.ndarray  # (F, 6)
    ah: np.ndarray  # (F,) int

    @classmethod
    def of(cls, track: FaceTrack) -> "FaceLabels":
        return cls(
            va=np.stack([track.valence, track.arousal], axis=1),
            au=labels.au_labels(track),
            emi=labels.emi_frames(track),
            ah=labels.ah_labels(track),
        )


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A cluttered background of ``size`` plus PAN_PX on each side."""
    w, h = size[0] + 2 * PAN_PX, size[1] + 2 * PAN_PX
    a, b = rng.integers(30, 225, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (
        np.cos(angle) * np.linspace(0, 1, w)[None, :]
        + np.sin(angle) * np.linspace(0, 1, h)[:, None]
    )
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    img = (a + ramp[..., None] * (b - a)).astype(np.uint8)
    for _ in range(rng.integers(*CLUTTER)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        extent = int(rng.integers(10, max(11, w // 3)))
        kind = rng.integers(5)
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + extent, y + int(rng.integers(10, h // 2))), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), extent // 3, colour, int(rng.choice([-1, 2, 4])), cv2.LINE_AA)
        elif kind == 2:
            cv2.line(
                img,
                (x, y),
                (int(rng.integers(0, w)), int(rng.integers(0, h))),
                colour,
                int(rng.integers(1, 6)),
                cv2.LINE_AA,
            )
        elif kind == 3:
            pts = rng.integers(-extent, extent, (int(rng.integers(3, 7)), 2)) + [x, y]
            cv2.fillPoly(img, [pts.astype(np.int32)], colour, cv2.LINE_AA)
        else:  # striped panel (shelves, blinds)
            step = int(rng.integers(4, 12))
            for k in range(0, extent, step):
                cv2.line(img, (x, y + k), (x + extent, y + k), colour, max(1, step // 3))
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _slots(width: int, faces: int) -> list[tuple[tuple[float, float], tuple[str, ...]]]:
    """Each face's (x0, x1) band and the frame edges it may leave through."""
    step = width / faces
    return [
        (
            (k * step, (k + 1) * step),
            ("left",) * (k == 0) + ("right",) * (k == faces - 1) + ("bottom",),
        )
        for k in range(faces)
    ]


class Video:
    """Everything fixed for one synthetic video, and the renderer of its frames.

    Args:
        seed: the video's seed; the same seed gives the same frames and labels.
        frames: number of frames.
        faces: faces per frame (side by side, never overlapping).
        size: (width, height) in pixels.
        fps: frame rate.
    """

    def __init__(
        self,
        seed: int,
        frames: int,
        faces: int = 1,
        size: tuple[int, int] = (640, 480),
        fps: float = 30.0,
    ) -> None:
        if faces < 1 or frames < 1:
            raise ValueError(f"need faces >= 1 and frames >= 1, got {faces} and {frames}")
        if min(size) < 64:
            raise ValueError(f"frame size {size} is too small; use at least 64×64")
        self.frames, self.size, self.fps = frames, (int(size[0]), int(size[1])), fps
        scene, *people = np.random.SeedSequence(seed).spawn(1 + faces)
        # one generator per quantity, so the first frames do not depend on the video's length
        rng, pan_x, pan_y, flicker, noise = (np.random.default_rng(s) for s in scene.spawn(5))
        tint = rng.uniform(*TINT, 3)
        self.background = np.clip(_background(rng, self.size) * tint, 0, 255).astype(np.uint8)
        self.light = tuple(rng.uniform(-0.8, 0.8, 2))
        self.shade = rng.uniform(*SHADE)
        self.blur = rng.uniform(*BLUR_SIGMA) if rng.uniform() < BLUR_CHANCE else 0.0
        self.gain = rng.uniform(*GAIN) * (
            1 + FLICKER * np.clip(smooth_noise(flicker, frames, fps, 0.5), -2, 2)
        )
        self.pan = np.stack(
            [
                PAN_PX + 0.8 * PAN_PX * np.clip(smooth_noise(pan, frames, fps, 4.0), -1, 1)
                for pan in (pan_x, pan_y)
            ],
            1,
        ).astype(int)
        amplitude = int(rng.integers(*NOISE))
        margin = 32
        grain = rng.integers(
            -amplitude, amplitude + 1, (self.size[1] + margin, self.size[0] + margin, 3), np.int16
        )
        self.noise_up = np.clip(grain, 0, None).astype(np.uint8)
        self.noise_down = np.clip(-grain, 0, None).astype(np.uint8)
        self.noise_shift = noise.integers(0, margin, (frames, 2))
        self.identities: list[Identity] = []
        self.tracks: list[FaceTrack] = []
        for seq, (slot, exits) in zip(people, _slots(self.size[0], faces), strict=True):
            look, behave = seq.spawn(2)
            ident = Identity.sample(np.random.default_rng(look))
            self.identities.append(_tinted(ident, tint))
            self.tracks.append(simulate_face(behave, frames, fps, self.size, slot, exits))
        self.labels = [FaceLabels.of(track) for track in self.tracks]

    def render(self, index: int) -> SynthFrame:
        """Frame ``index`` with its ground truth."""
        w, h = self.size
        ox, oy = self.pan[index]
        image = self.background[oy : oy + h, ox : ox + w].copy()
        states = [track.state(index) for track in self.tracks]
        for ident, state in zip(self.identities, states, strict=True):
            draw_body(image, ident, state)
        geometry = [
            draw_face(image, ident, state, self.light, self.shade)
            for ident, state in zip(self.identities, states, strict=True)
        ]
        cv2.convertScaleAbs(image, image, alpha=float(self.gain[index]))
        if self.blur:
            cv2.GaussianBlur(image, (0, 0), self.blur, dst=image)
        nx, ny = self.noise_shift[index]
        cv2.add(image, self.noise_up[ny : ny + h, nx : nx + w], dst=image)
        cv2.subtract(image, self.noise_down[ny : ny + h, nx : nx + w], dst=image)
        faces = [self._truth(k, index, g) for k, g in enumerate(geometry)]
        return SynthFrame(index=index, stamp=index / self.fps, image=image, faces=faces)

    def _truth(self, person: int, index: int, geometry: FaceGeometry) -> FaceTruth:
        lab = self.labels[person]
        visible = labels.visible_fraction(geometry.box, self.size)
        return FaceTruth(
            person=person,
            box=geometry.box,
            keypoints=geometry.keypoints,
            valence=float(lab.va[index, 0]),
            arousal=float(lab.va[index, 1]),
            au=lab.au[index],
            emi=lab.emi[index],
            ah=int(lab.ah[index]),
            visible=visible,
            labelled=visible >= labels.MIN_VISIBLE,
        )

    def __iter__(self) -> Iterator[SynthFrame]:
        return (self.render(i) for i in range(self.frames))


def _tinted(identity: Identity, tint: np.ndarray) -> Identity:
    """The identity's colours under a colour tint."""

    def tone(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        r, g, b = (int(min(255, c * t)) for c, t in zip(rgb, tint, strict=True))
        return r, g, b

    return dataclasses.replace(
        identity,
        **{
            name: tone(getattr(identity, name))
            for name in ("skin", "hair", "iris", "lips", "shirt")
        },
    )


def render_video(
    seed: int, frames: int, faces: int = 1, size: tuple[int, int] = (640, 480), fps: float = 30.0
) -> Iterator[SynthFrame]:
    """Render a synthetic video frame by frame (see :class:`Video`)."""
    return iter(Video(seed, frames, faces, size, fps))
