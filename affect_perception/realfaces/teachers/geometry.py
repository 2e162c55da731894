"""Action-unit proxies from FaceMesh landmark geometry, relative to the person's neutral.

Each feature is a distance or height in the face's own frame (rolled so the eyes are level),
divided by the distance between the eye centres, so it does not depend on face size or roll.
An AU proxy is the change of its features from the person's neutral face: positive means more
of the action. The proxies are unitless and only their order is meaningful (realcheck compares
them by rank), and only AU12, AU25, AU26, AU1, AU2, AU4 and AU7 have one; nothing here
measures AU6, AU10, AU15, AU23 or AU24.
"""

from __future__ import annotations

import numpy as np

# MediaPipe FaceMesh indices (subject's right = image left on a frontal face).
RIGHT_EYE = (33, 133, 159, 145)  # outer corner, inner corner, upper lid, lower lid
LEFT_EYE = (263, 362, 386, 374)
RIGHT_BROW = (70, 107)  # outer, inner (upper brow edge)
LEFT_BROW = (300, 336)
MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)  # upper, lower
NOSE_TIP = 1
CHIN = 152

FEATURES = (
    "mouth_width",
    "corner_lift",
    "lip_gap",
    "jaw_open",
    "inner_brow",
    "outer_brow",
    "brow_gap",
    "eye_aperture",
)
# AU -> (feature, sign) terms summed into its proxy.
AU_PROXIES: dict[str, tuple[tuple[str, float], ...]] = {
    "AU1": (("inner_brow", 1.0),),
    "AU2": (("outer_brow", 1.0),),
    "AU4": (("inner_brow", -1.0), ("brow_gap", -1.0)),
    "AU7": (("eye_aperture", -1.0),),
    "AU12": (("mouth_width", 1.0), ("corner_lift", 1.0)),
    "AU25": (("lip_gap", 1.0),),
    "AU26": (("jaw_open", 1.0),),
}


def _level(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Landmarks (468, 2) rotated so the eye centres are level, and the eye distance."""
    right = points[list(RIGHT_EYE)].mean(axis=0)
    left = points[list(LEFT_EYE)].mean(axis=0)
    axis = left - right
    iod = float(np.hypot(*axis))
    if iod <= 0:
        raise ValueError("degenerate landmarks: both eyes at one point")
    c, s = axis / iod
    # rotate into a frame whose x runs from the right eye to the left eye; y points down
    rotated = (points - right) @ np.array([[c, -s], [s, c]])
    return rotated, iod


def features(landmarks: np.ndarray) -> dict[str, float]:
    """The FEATURES of one face from its (468, 2 or 3) landmarks."""
    p, iod = _level(np.asarray(landmarks, np.float64)[:, :2])

    def dist(a: int, b: int) -> float:
        return float(np.hypot(*(p[a] - p[b]))) / iod

    eye_y = {"r": p[list(RIGHT_EYE), 1].mean(), "l": p[list(LEFT_EYE), 1].mean()}
    # brow heights above the eye line (y grows downwards)
    inner = ((eye_y["r"] - p[RIGHT_BROW[1], 1]) + (eye_y["l"] - p[LEFT_BROW[1], 1])) / 2 / iod
    outer = ((eye_y["r"] - p[RIGHT_BROW[0], 1]) + (eye_y["l"] - p[LEFT_BROW[0], 1])) / 2 / iod
    lip_mid_y = p[list(INNER_LIPS), 1].mean()
    corners_y = p[list(MOUTH_CORNERS), 1].mean()
    aperture = [
        dist(eye[2], eye[3]) / max(dist(eye[0], eye[1]), 1e-6) for eye in (RIGHT_EYE, LEFT_EYE)
    ]
    return {
        "mouth_width": dist(*MOUTH_CORNERS),
        "corner_lift": float(lip_mid_y - corners_y) / iod,
        "lip_gap": dist(*INNER_LIPS),
        "jaw_open": dist(NOSE_TIP, CHIN),
        "inner_brow": float(inner),
        "outer_brow": float(outer),
        "brow_gap": dist(RIGHT_BROW[1], LEFT_BROW[1]),
        "eye_aperture": float(np.mean(aperture)),
    }


def mean_features(items: list[dict[str, float]]) -> dict[str, float]:
    """Feature-wise mean (views of one face) or, with many faces, a population neutral."""
    if not items:
        raise ValueError("no features to average")
    return {k: float(np.mean([f[k] for f in items])) for k in FEATURES}


def au_proxies(face: dict[str, float], neutral: dict[str, float]) -> dict[str, float]:
    """AU proxy per AU in AU_PROXIES: signed change from ``neutral``; larger means more AU."""
    return {
        au: float(sum(sign * (face[name] - neutral[name]) for name, sign in terms))
        for au, terms in AU_PROXIES.items()
    }
