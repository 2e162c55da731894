"""Drawing one face: a parametric head on an ellipsoid, turned by yaw, pitch and roll.

Face units: the face oval has half-width 1 and half-height ``aspect`` (about 1.3), origin at
its centre, x to the image's right, y down, z towards the camera. Features sit on an
ellipsoid of depth ``FACE_DEPTH`` (the nose stands out of it), are rotated in 3-D and
projected orthographically, so a turned head moves its nose further than its eyes; the
outline, hair and body only follow roll. The skin is a blurred low-resolution shading layer
(lit side, eye sockets, nose, blush) under crisp features.

Each action unit moves or adds its own features (AU1 inner brows up with central forehead
lines, AU2 outer brows up with lateral lines, AU4 brows down and together with vertical
lines between them, AU6 lower lids up with crow's feet and cheek folds, AU7 lower lids up and
tense, AU10 upper lip up showing teeth with folds beside the nose, AU12 corners up and out
with long smile folds, AU15 corners down with lines below them, AU23 narrow thin lips with a
tense border, AU24 lips pressed thin with a chin bulge, AU25 lips apart, AU26 jaw and chin
down); a hesitation pulls the mouth to one side with a crease up that cheek; valence bends
the mouth, arousal opens the eyes, lifts the brows and flushes the cheeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from affect_perception.labels import AU_NAMES
from affect_perception.synth.trajectories import FaceState

# Skin, hair, iris and clothing palettes (RGB) identities draw from.
SKIN_TONES = (
    (245, 205, 180),
    (232, 184, 150),
    (212, 158, 120),
    (180, 125, 90),
    (140, 95, 65),
    (105, 70, 50),
)
HAIR_COLOURS = (
    (28, 24, 22),
    (62, 42, 30),
    (105, 72, 45),
    (196, 160, 110),
    (150, 72, 40),
    (160, 158, 155),
)
IRIS_COLOURS = ((75, 50, 35), (45, 32, 25), (80, 115, 155), (85, 115, 80), (120, 95, 55))
HAIR_STYLES = ("short", "long", "bald")

# Depth of the face ellipsoid relative to its half-width, and how far features stand out.
FACE_DEPTH = 0.75
NOSE_OUT = 0.42
# Depth of the skull's centre behind the face centre (moves the hair and ears when turning).
SKULL_BACK = 0.55
# Outline shift towards the nose per unit sin(yaw) (the face oval moves a little with a turn).
OUTLINE_YAW_SHIFT = 0.2
# Valence and arousal cues: mouth-corner lift (face units) and mouth widening (fraction) at
# valence +1; eye opening per unit arousal (around a rest opening of 0.72), brow lift (face
# units) and cheek flush (share of a red mix) at arousal +1.
VALENCE_MOUTH_BEND = 0.16
VALENCE_MOUTH_WIDEN = 0.1
AROUSAL_EYE_OPEN = 0.4
AROUSAL_BROW_LIFT = 0.1
AROUSAL_BLUSH = 0.45
# Iris radius and the iris centre's travel at gaze ±1, as fractions of the eye half-width:
# a gaze of ±1 puts the iris at the eye corner with white showing on the other side.
IRIS_RADIUS = 0.42
GAZE_TRAVEL = 0.8
# A hesitation's mouth pull at full strength: the pulled corner moves out and up (face units).
HESITATION_PULL_OUT = 0.15
HESITATION_PULL_UP = 0.28
# Chin drop of AU26 at full intensity, in face units.
JAW_DROP = 0.3
# Top of the ground-truth box as a fraction of the oval's half-height above its centre: the
# box runs from there (above the brows) to the chin and cheek to cheek, as BlazeFace's do.
BOX_TOP = 0.5
# Scale of the shading layer against the frame (lower is faster and smoother).
SHADE_SCALE = 0.25
# Points on curves (more is smoother and slower).
CURVE_POINTS = 15


@dataclass(frozen=True)
class Identity:
    """What stays fixed for one person: colours and face shape.

    Attributes:
        skin, hair, iris, lips, shirt: RGB colours.
        hair_style: one of HAIR_STYLES.
        aspect: face-oval half-height over half-width.
        eye_gap: horizontal distance of each eye centre from the midline.
        eye_size: eye half-width.
        brow_thickness: eyebrow thickness at its inner end.
        nose_length: eye line to nose tip.
        mouth_width: mouth half-width at rest.
        lip_thickness: scale of both lips' height.
        hairline: depth of the hairline below the top of the oval.
    """

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    iris: tuple[int, int, int]
    lips: tuple[int, int, int]
    shirt: tuple[int, int, int]
    hair_style: str
    aspect: float
    eye_gap: float
    eye_size: float
    brow_thickness: float
    nose_length: float
    mouth_width: float
    lip_thickness: float
    hairline: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Identity":
        """A random person."""
        tone = rng.uniform(0, len(SKIN_TONES) - 1)
        low = int(tone)
        skin = _mix(SKIN_TONES[low], SKIN_TONES[min(low + 1, len(SKIN_TONES) - 1)], tone - low)
        skin = _tone(skin, rng.uniform(0.93, 1.05))
        lips = _mix(skin, (150, 45, 55), rng.uniform(0.3, 0.5))
        return cls(
            skin=skin,
            hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
            iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))],
            lips=lips,
            shirt=tuple(int(c) for c in rng.integers(20, 235, 3)),
            hair_style=HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=(0.5, 0.35, 0.15))],
            aspect=rng.uniform(1.2, 1.38),
            eye_gap=rng.uniform(0.38, 0.44),
            eye_size=rng.uniform(0.21, 0.25),
            brow_thickness=rng.uniform(0.06, 0.09),
            nose_length=rng.uniform(0.5, 0.6),
            mouth_width=rng.uniform(0.32, 0.38),
            lip_thickness=rng.uniform(0.85, 1.2),
            hairline=rng.uniform(0.27, 0.4),
        )


@dataclass
class FaceGeometry:
    """Where a drawn face is, in pixels: box (4,) xyxy (above the brows to the chin, cheek to
    cheek, see BOX_TOP) and keypoints (6, 2) in BlazeFace order (right eye, left eye, nose tip,
    mouth centre, right ear, left ear)."""

    box: np.ndarray
    keypoints: np.ndarray


def _tone(rgb: tuple[int, ...], factor: float) -> tuple[int, int, int]:
    """``rgb`` scaled by ``factor``, clipped to 0..255."""
    r, g, b = (int(min(255, max(0, c * factor))) for c in rgb)
    return r, g, b


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    """The colour ``t`` of the way from ``a`` to ``b``."""
    r, g, b_ = (int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))
    return r, g, b_


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * 16).astype(np.int32)


def _fill(img: np.ndarray, pts: np.ndarray, colour: tuple[int, ...]) -> None:
    cv2.fillPoly(img, [_fixed(pts)], colour, cv2.LINE_AA, shift=4)


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


# Unit parameters reused by every face.
_U = np.linspace(-1, 1, CURVE_POINTS)
_U01 = np.linspace(0, 1, CURVE_POINTS)
_CIRCLE16 = _ellipse(0, 0, 1, 1, 16)


@dataclass
class _Stroke:
    """One shape on the face surface, in face units: filled, or a line ``width`` pixels wide."""

    xy: np.ndarray
    colour: tuple[int, ...]
    lift: float = 0.0
    width: float = 0.0
    closed: bool = False


class _Head:
    """One face's geometry in one frame: projection, expression parameters, drawing steps.

    Steps on the face surface queue strokes; ``flush`` projects a queue in one matrix product
    and draws it in order.
    """

    def __init__(
        self,
        identity: Identity,
        state: FaceState,
        light: tuple[float, float] = (0.0, 0.0),
        shade: float = 1.0,
    ) -> None:
        self.id, self.st, self.light, self.shade = identity, state, light, shade
        self.au = dict(zip(AU_NAMES, np.asarray(state.au, dtype=float).tolist(), strict=True))
        h = self.h = identity.aspect
        self.s = state.height / (2 * h)  # pixels per face unit
        yaw, pitch, roll = np.radians([state.yaw, state.pitch, state.roll])
        cy_, sy_ = np.cos(yaw), np.sin(yaw)
        cp, sp = np.cos(pitch), np.sin(pitch)
        cr, sr = np.cos(roll), np.sin(roll)
        r_yaw = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
        r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        self.r_roll = np.array([[cr, -sr], [sr, cr]]) * self.s
        self.m = (np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]]) @ r_pitch @ r_yaw)[:2]
        self.m = self.m * self.s
        self.c = np.asarray(state.center, dtype=float)
        self.sin_yaw = float(sy_)
        self.queue: list[_Stroke] = []
        # Feature layout (face units).
        self.eye_y = -0.17 * h
        self.brow_y = self.eye_y - 0.27
        self.nose_y = self.eye_y + identity.nose_length
        self.mouth_y = 0.6 * h

    # projections -------------------------------------------------------------------------
    def surface(self, xy: np.ndarray, lift: np.ndarray | float = 0.0) -> np.ndarray:
        """Pixels of (n, 2) face-plane points lying on the face (``lift`` above it)."""
        r = 1 - xy[:, 0] ** 2 - (xy[:, 1] / self.h) ** 2
        z = FACE_DEPTH * np.sqrt(np.clip(r, 0, None)) + lift
        return xy @ self.m[:, :2].T + np.outer(z, self.m[:, 2]) + self.c

    def point3(self, x: float, y: float, z: float) -> np.ndarray:
        return np.array([x, y, z]) @ self.m.T + self.c

    def plane(self, xy: np.ndarray, shift: float = 0.0) -> np.ndarray:
        """Pixels of points that only follow roll (outline, hair), moved ``shift`` in x."""
        return (xy + [shift, 0.0]) @ self.r_roll.T + self.c

    def px(self, units: float) -> float:
        return units * self.s

    # queued strokes ----------------------------------------------------------------------
    def fill(self, xy: np.ndarray, colour: tuple[int, ...], lift: float = 0.0) -> None:
        self.queue.append(_Stroke(xy, colour, lift))

    def line(
        self,
        xy: np.ndarray,
        colour: tuple[int, ...],
        width: float,
        lift: float = 0.0,
        closed: bool = False,
    ) -> None:
        self.queue.append(_Stroke(xy, colour, lift, width, closed))

    def flush(
        self, img: np.ndarray, origin: tuple[float, float] = (0.0, 0.0), scale: float = 1.0
    ) -> None:
        """Project and draw the queued strokes (into a layer at ``origin``, ``scale``)."""
        queue, self.queue = self.queue, []
        if not queue:
            return
        sizes = [len(q.xy) for q in queue]
        lift = np.repeat([q.lift for q in queue], sizes)
        pts = (self.surface(np.concatenate([q.xy for q in queue]), lift) - origin) * scale
        fixed = np.split(_fixed(pts), np.cumsum(sizes)[:-1])
        for q, p in zip(queue, fixed, strict=True):
            if q.width:
                thickness = max(1, int(round(q.width * scale)))
                cv2.polylines(img, [p], q.closed, q.colour, thickness, cv2.LINE_AA, shift=4)
            else:
                cv2.fillPoly(img, [p], q.colour, cv2.LINE_AA, shift=4)

    # outline ---------------------------------------------------------------------------
    def outline(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixels of the face oval (chin lowered by AU26, following the turn) and the xyxy box
        of its part below BOX_TOP."""
        a = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        x, y = np.cos(a), np.sin(a)
        lower = y > 0
        y = np.where(lower, y * (self.h + JAW_DROP * self.au["AU26"]), y * self.h)
        x = np.where(lower, x * (1 - 0.22 * y**2 / self.h**2), x)
        x = x * (1 - 0.12 * abs(self.sin_yaw)) + np.where(lower, 0.25 * y / self.h, 0) * (
            self.sin_yaw
        )
        xy = np.stack([x, y], axis=1)
        rim = self.plane(xy, OUTLINE_YAW_SHIFT * self.sin_yaw)
        low = rim[y >= -BOX_TOP * self.h]
        return rim, np.concatenate([low.min(axis=0), low.max(axis=0)])

    # drawing steps ---------------------------------------------------------------------
    def skull(self, img: np.ndarray) -> None:
        """Back of the head: hair (or bald scalp), behind ears and face."""
        shift = -SKULL_BACK * self.sin_yaw
        colour = _tone(self.id.skin, 0.82) if self.id.hair_style == "bald" else self.id.hair
        a = np.linspace(np.pi - 0.1, 2 * np.pi + 0.1, 24)  # left, over the top, right
        dome = np.stack([1.1 * np.cos(a), self.h * (1.06 * np.sin(a) - 0.1)], axis=1)
        if self.id.hair_style == "long":  # down to the shoulders, ends rounded inwards
            ends = np.array(
                [
                    [1.18, 0.6 * self.h],
                    [1.1, self.h + 0.35],
                    [0.9, self.h + 0.55],
                    [-0.9, self.h + 0.55],
                    [-1.1, self.h + 0.35],
                    [-1.18, 0.6 * self.h],
                ]
            )
            dome = np.concatenate([dome, ends])
        _fill(img, self.plane(dome, shift), colour)

    def ears(self, img: np.ndarray) -> np.ndarray:
        """Draw both ears; return their (2, 2) keypoints (right, left)."""
        kps = []
        y = 0.5 * (self.eye_y + self.nose_y)
        for side in (-1, 1):
            centre = self.point3(side * 1.0, y, -SKULL_BACK)
            kps.append(self.point3(side * 0.96, y, -0.3))
            width = np.clip(0.7 - 1.2 * side * self.sin_yaw, 0.25, 1.2) * 0.15
            _fill(
                img, (_CIRCLE16 * [width, 0.3]) @ self.r_roll.T + centre, _tone(self.id.skin, 0.85)
            )
            inner = (_CIRCLE16[2:11] * [0.55 * width, 0.18] + [0, 0.02]) @ self.r_roll.T
            cv2.polylines(
                img,
                [_fixed(inner + centre)],
                False,
                _tone(self.id.skin, 0.6),
                max(1, int(round(self.px(0.03)))),
                cv2.LINE_AA,
                shift=4,
            )
        return np.array(kps)

    def skin(self, img: np.ndarray, outline: np.ndarray) -> None:
        """Face oval with soft shading: lit side, eye sockets, nose, blush."""
        hgt, wid = img.shape[:2]
        x0, y0 = np.floor(outline.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, wid), min(y1, hgt)
        if x1 <= x0 or y1 <= y0:
            return
        small = (max(2, int((x1 - x0) * SHADE_SCALE)), max(2, int((y1 - y0) * SHADE_SCALE)))
        layer = np.empty((small[1], small[0], 3), np.uint8)
        base, (lx, ly), h, shade = self.id.skin, self.light, self.h, self.shade
        layer[:] = _tone(base, shade)
        self.fill(_CIRCLE16 * [0.9, 0.92 * h] + [0.15 * lx, 0.15 * ly], base)
        self.fill(_CIRCLE16 * [0.45, 0.28] + [0.35 * lx, -0.55 * h + 0.2 * ly], _tone(base, 1.1))
        blush = _mix(base, (225, 80, 85), AROUSAL_BLUSH * max(self.st.arousal, 0.0))
        for side in (-1, 1):
            self.fill(
                _CIRCLE16 * [0.27, 0.15] + [side * self.id.eye_gap, self.eye_y - 0.07],
                _tone(base, 0.8),
            )
            self.fill(_CIRCLE16 * [0.22, 0.16] + [side * 0.55, 0.3], blush)
            ridge = np.array([[side * 0.1, self.eye_y + 0.05], [side * 0.13, self.nose_y]])
            self.line(ridge, _tone(base, 0.78 if side * lx < 0 else 0.9), self.px(0.07), 0.15)
        self.fill(
            _CIRCLE16 * [0.08, 0.1] + [0, self.nose_y - 0.05], _tone(base, 1.12), NOSE_OUT * 0.9
        )
        self.fill(_CIRCLE16 * [0.15, 0.04] + [0, self.nose_y + 0.1], _tone(base, 0.78), 0.1)
        scale = small[0] / (x1 - x0)
        self.flush(layer, (x0, y0), scale)
        sigma = max(0.6, self.px(0.09) * scale)
        layer = cv2.GaussianBlur(layer, (0, 0), sigma)
        layer = cv2.resize(layer, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [_fixed(outline - [x0, y0])], 255, cv2.LINE_8, shift=4)
        np.copyto(img[y0:y1, x0:x1], layer, where=mask[..., None].astype(bool))
        cv2.polylines(
            img,
            [_fixed(outline)],
            True,
            _tone(self.id.skin, shade * 0.95),
            1,
            cv2.LINE_AA,
            shift=4,
        )

    def eyes(self) -> np.ndarray:
        """Queue both eyes; return their (2, 2) centre keypoints (right, left)."""
        au, st, ew = self.au, self.st, self.id.eye_size
        opening = (0.72 + AROUSAL_EYE_OPEN * st.arousal) * (1 - 0.3 * au["AU7"]) * (1 - st.blink)
        opening = max(0.0, opening)
        up = ew * 0.55 * opening
        lo = ew * 0.32 * max(0.08, 1 - 0.45 * au["AU6"] - 0.6 * au["AU7"])
        lash, white = (35, 28, 28), (232, 228, 222)
        lower_lid = _tone(self.id.skin, 0.62 - 0.15 * au["AU7"])
        crease_colour = _tone(self.id.skin, 0.68)
        u = _U
        arch = 1 - u**2
        centres = np.array([[-self.id.eye_gap, self.eye_y], [self.id.eye_gap, self.eye_y]])
        for side, (cx, _) in zip((-1, 1), centres, strict=True):
            xs = cx + side * ew * u
            upper = np.stack([xs, self.eye_y - up * arch - 0.03 * u], axis=1)
            lower = np.stack([xs, self.eye_y + lo * arch - 0.03 * u], axis=1)
            if up > 0.012:
                self.fill(np.concatenate([upper, lower[::-1]]), white)
                iris_c = np.array(
                    [cx + st.gaze[0] * ew * GAZE_TRAVEL, self.eye_y + st.gaze[1] * up * 0.3]
                )
                for radius, colour in (
                    (IRIS_RADIUS * ew, self.id.iris),
                    ((0.22 + 0.04 * st.arousal) * ew, (15, 12, 12)),
                ):
                    ring = _CIRCLE16 * radius + iris_c
                    ring[:, 0] = np.clip(ring[:, 0], xs.min(), xs.max())
                    frac = side * (ring[:, 0] - cx) / ew
                    lid = self.eye_y - 0.03 * frac
                    ring[:, 1] = np.clip(
                        ring[:, 1], lid - up * (1 - frac**2), lid + lo * (1 - frac**2)
                    )
                    self.fill(ring, colour)
                if up > 0.05:
                    self.fill(_CIRCLE16[::2] * 0.08 * ew + iris_c - 0.15 * ew, (250, 250, 250))
            self.line(lower, lower_lid, self.px(0.02 + 0.03 * au["AU7"]))
            self.line(upper, lash, self.px(0.04))
            self.line(upper[2:-2] - [0, 0.07 + 0.15 * up], crease_colour, self.px(0.02))
        return self.surface(centres)

    def brows(self) -> None:
        """Queue eyebrows: lifted by arousal, AU1 (inner) and AU2 (outer), lowered and knit by
        AU4."""
        au, ew = self.au, self.id.eye_size
        lift = AROUSAL_BROW_LIFT * self.st.arousal
        inner = -lift - 0.22 * au["AU1"] + 0.12 * au["AU4"]
        outer = -lift - 0.17 * au["AU2"] + 0.05 * au["AU4"]
        middle = -0.04 * au["AU1"] - 0.05 * au["AU2"]
        u = _U01
        colour = _tone(self.id.hair, 0.8) if sum(self.id.hair) < 500 else _tone(self.id.hair, 0.6)
        ys = (
            self.brow_y
            - 0.09 * np.sin(np.pi * u**0.8)
            + inner * (1 - u)
            + outer * u
            + middle * np.sin(np.pi * u)
        )
        half = 0.5 * self.id.brow_thickness * (1.2 - 0.7 * u)
        for side in (-1, 1):
            x_in = side * (0.12 - 0.06 * au["AU4"])
            xs = x_in + (side * (self.id.eye_gap + ew + 0.1) - x_in) * u
            poly = np.concatenate(
                [np.stack([xs, ys - half], 1), np.stack([xs, ys + half], 1)[::-1]]
            )
            self.fill(poly, colour, 0.02)

    def wrinkles(self) -> None:
        """Queue the lines some AUs add; only while the AU is on, darker with its intensity."""
        au, eg, ew = self.au, self.id.eye_gap, self.id.eye_size
        width = self.px(0.028)
        dark = _tone(self.id.skin, 0.42)

        def stroke(name: str, pts: np.ndarray, lift: float = 0.0) -> None:
            if au[name] > 0.02:
                self.line(pts, _mix(self.id.skin, dark, au[name]), width, lift)

        x = _U[::2]
        top = self.brow_y - 0.3
        for k in range(2):
            stroke("AU1", np.stack([0.2 * x, top - 0.08 * k + 0.03 * x**2], 1))
            for side in (-1, 1):
                stroke("AU2", np.stack([side * (0.52 + 0.2 * x), top - 0.08 * k - 0.02 * x], 1))
        for side in (-1, 1):
            stroke(
                "AU4",
                np.array([[side * 0.05, self.brow_y - 0.03], [side * 0.06, self.brow_y + 0.13]]),
            )
            corner = side * (eg + ew + 0.03)
            for k in (-1, 0, 1):
                stroke(
                    "AU6",
                    np.array(
                        [
                            [corner, self.eye_y + 0.02 * k],
                            [corner + side * 0.13, self.eye_y + 0.06 * k],
                        ]
                    ),
                )
            stroke("AU6", np.stack([side * eg + 0.15 * x, self.eye_y + 0.2 - 0.03 * x**2], 1))
            stroke("AU7", np.stack([side * eg + 0.12 * x, self.eye_y + 0.1 - 0.015 * x**2], 1))
            stroke(
                "AU10",
                np.array([[side * 0.09, self.nose_y - 0.2], [side * 0.15, self.nose_y - 0.08]]),
                0.15,
            )
            stroke(
                "AU10",
                np.array([[side * 0.17, self.nose_y + 0.02], [side * 0.25, self.nose_y + 0.14]]),
            )

    def nose(self) -> np.ndarray:
        """Queue nostrils and wings (raised and flared by AU10); return the nose-tip
        keypoint."""
        y = self.nose_y + 0.05 - 0.03 * self.au["AU10"]
        flare = 1 + 0.25 * self.au["AU10"]
        a = np.linspace(0.2, 2.6, 8)
        for side in (-1, 1):
            self.fill(
                _CIRCLE16 * [0.045 * flare, 0.022] + [side * 0.075, y],
                _tone(self.id.skin, 0.35),
                0.22,
            )
            wing = np.stack(
                [side * (0.06 + 0.1 * flare * np.sin(a)), y - 0.02 - 0.06 * np.cos(a)], 1
            )
            self.line(wing, _tone(self.id.skin, 0.68), self.px(0.022), 0.15)
        shadow = -1 if self.light[0] > 0 else 1
        bridge = np.array([[shadow * 0.07, self.eye_y + 0.1], [shadow * 0.09, self.nose_y - 0.12]])
        self.line(bridge, _tone(self.id.skin, 0.8), self.px(0.02), 0.2)
        return self.point3(0.0, self.nose_y, FACE_DEPTH + NOSE_OUT)

    def mouth(self) -> np.ndarray:
        """Queue lips, mouth opening and teeth, with the AU folds around them; return the
        mouth-centre keypoint."""
        au, st = self.au, self.st
        corner_dy = -VALENCE_MOUTH_BEND * st.valence - 0.13 * au["AU12"] + 0.18 * au["AU15"]
        half = self.id.mouth_width * (
            1 + VALENCE_MOUTH_WIDEN * st.valence + 0.25 * au["AU12"] - 0.25 * au["AU23"]
        )
        thin = max(0.1, 1 - 0.55 * au["AU23"] - 0.85 * au["AU24"]) * self.id.lip_thickness
        raise10 = 0.09 * au["AU10"]
        gap = au["AU25"] * (0.1 + 0.24 * au["AU26"])
        stretch = 0.12 * au["AU26"] * (1 - au["AU25"])
        u = _U
        pull = st.hesitation
        pulled = np.clip(np.sign(pull) * u, 0, None) ** 2  # 1 at the pulled corner
        xs = half * u + HESITATION_PULL_OUT * pull * pulled
        taper = (1 - u**2) ** 0.7
        centre = np.sqrt(np.clip(1 - (u / 0.6) ** 2, 0, None))
        line = self.mouth_y + corner_dy * u**2 - HESITATION_PULL_UP * abs(pull) * pulled
        up_in = line - 0.15 * gap * taper - raise10 * centre
        lo_in = line + 0.85 * gap * taper
        bow = (0.6 + 0.4 * (1 - u**2)) * (1 - 0.3 * np.exp(-((u / 0.15) ** 2)))
        up_out = up_in - 0.065 * thin * bow - 0.3 * raise10 * (1 - u**2)
        lo_out = lo_in + (0.085 * thin + stretch) * (0.45 + 0.55 * (1 - u**2))

        def pts(ys: np.ndarray) -> np.ndarray:
            return np.stack([xs, ys], axis=1)

        fold = _tone(self.id.skin, 0.5)
        arc = _U01[::2]
        for side in (-1, 1):
            corner = -1 if side > 0 else 0
            tip = np.array([xs[corner], line[corner]])
            if side * pull > 0.02:  # the hesitation's crease, from the pulled corner up the cheek
                crease = tip + np.stack([side * (0.04 + 0.1 * arc**2), 0.06 - 0.3 * arc], 1)
                self.line(crease, _mix(self.id.skin, fold, abs(pull)), self.px(0.045))
            if au["AU12"] > 0.02:
                smile = np.stack(
                    [
                        side * (0.2 + (half - 0.12) * arc + 0.12 * arc**2),
                        self.nose_y + 0.06 + (tip[1] + 0.06 - self.nose_y) * arc,
                    ],
                    1,
                )
                self.line(smile, _mix(self.id.skin, fold, au["AU12"]), self.px(0.025))
            if au["AU15"] > 0.02:
                down = np.array([tip + [side * 0.02, 0.05], tip + [side * 0.06, 0.28]])
                self.line(down, _mix(self.id.skin, fold, au["AU15"]), self.px(0.028))
        if au["AU24"] > 0.02:
            for dy, bend in ((0.24, -0.05), (-0.17, 0.03)):  # chin boss and upper-lip bulge
                bulge = np.stack([0.26 * u, self.mouth_y + dy + bend * (1 - u**2)], 1)
                self.line(bulge, _mix(self.id.skin, fold, au["AU24"]), self.px(0.035))
        if (lo_in - up_in).max() > 0.004:
            self.fill(np.concatenate([pts(up_in), pts(lo_in)[::-1]]), (70, 22, 28), 0.05)
            teeth = np.minimum(up_in + 0.07, lo_in)
            inner = np.abs(u) < 0.75
            self.fill(
                np.concatenate([pts(up_in)[inner], pts(teeth)[inner][::-1]]), (236, 232, 220), 0.05
            )
        lips = self.id.lips
        self.fill(np.concatenate([pts(up_out), pts(up_in)[::-1]]), lips, 0.08)
        self.fill(np.concatenate([pts(lo_in), pts(lo_out)[::-1]]), _tone(lips, 1.08), 0.08)
        seam = self.px(0.015 + 0.03 * au["AU24"])  # pressed lips: a heavier seam
        self.line(pts(0.5 * (up_in + lo_in)), _tone(lips, 0.55), seam, 0.08)
        if au["AU23"] > 0.02:
            self.line(
                np.concatenate([pts(up_out), pts(lo_out)[::-1]]),
                _mix(lips, _tone(lips, 0.5), au["AU23"]),
                self.px(0.025),
                0.08,
                True,
            )
        mid = CURVE_POINTS // 2
        return self.surface(np.array([[0.0, 0.5 * (up_in[mid] + lo_in[mid])]]), 0.08)[0]

    def fringe(self, img: np.ndarray) -> None:
        """Hair over the top of the forehead, down at the temples."""
        if self.id.hair_style == "bald":
            return
        x = np.linspace(-1, 1, 25)
        top = -self.h * np.sqrt(1 - x**2) - 0.03
        line = -self.h + self.id.hairline + 0.35 * x**4 + 0.06 * np.cos(3 * x)
        keep = top < line
        poly = np.concatenate([np.stack([x, top], 1)[keep], np.stack([x, line], 1)[keep][::-1]])
        _fill(img, self.plane(poly, OUTLINE_YAW_SHIFT * self.sin_yaw), self.id.hair)


def draw_body(image: np.ndarray, identity: Identity, state: FaceState) -> None:
    """Draw the neck and shoulders under a face (call for every face before any head)."""
    head = _Head(identity, state)
    h = head.h
    shift = -0.3 * SKULL_BACK * head.sin_yaw
    shoulders = np.array(
        [
            [-0.45, h + 0.6],
            [0.45, h + 0.6],
            [2.0, h + 1.2],
            [2.3, h + 4],
            [-2.3, h + 4],
            [-2.0, h + 1.2],
        ]
    )
    _fill(image, head.plane(shoulders, shift), identity.shirt)
    neck = np.concatenate(
        [[[-0.48, 0.2 * h], [0.48, 0.2 * h]], _ellipse(0, h + 0.75, 0.48, 0.2, 16)[:9]]
    )
    _fill(image, head.plane(neck, shift), _tone(identity.skin, 0.8))
    _fill(
        image, head.plane(_ellipse(0, 0.95 * h, 0.5, 0.22, 16), shift), _tone(identity.skin, 0.6)
    )


def draw_face(
    image: np.ndarray,
    identity: Identity,
    state: FaceState,
    light: tuple[float, float] = (-0.4, -0.6),
    shade: float = 0.75,
) -> FaceGeometry:
    """Draw one head into an RGB uint8 image in place.

    Args:
        image: (H, W, 3) uint8 RGB frame, drawn on in place.
        identity: the person.
        state: pose, place and expression in this frame.
        light: direction towards the light in face units (lit side of the shading).
        shade: brightness of the face's shadowed rim relative to its lit centre.

    Returns:
        The face's box and keypoints in the image's pixels.
    """
    head = _Head(identity, state, light, shade)
    outline, box = head.outline()
    head.skull(image)
    ears = head.ears(image)
    head.skin(image, outline)
    eyes = head.eyes()
    head.brows()
    head.wrinkles()
    nose = head.nose()
    mouth = head.mouth()
    head.flush(image)
    head.fringe(image)
    keypoints = np.stack([eyes[0], eyes[1], nose, mouth, ears[0], ears[1]])
    return FaceGeometry(box=box.astype(np.float32), keypoints=keypoints.astype(np.float32))
