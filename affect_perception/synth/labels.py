"""Ground truth of every task, computed from a face's per-frame state.

- VA: the state's valence and arousal.
- AUs: present while the AU's intensity is at least ``AU_ON``.
- EMI (per frame, and per video as the mean over labelled frames) and A/H look at the last
  ``WINDOW`` frames (newest included) and mix an appearance gate with the movement inside the
  window, so one frame never settles them:

  ============= ============================================ ===============================
  dimension     gate (window means)                          dynamics (window)
  ============= ============================================ ===============================
  Admiration    positive valence                             nodding: pitch movement
  Amusement     AU12 smile                                   laughing: jaw (AU26) movement
  Determination brow lowerer / lid tightener / lip press     stillness: no head movement
  Empathic Pain negative valence                             head shake: yaw movement
  Excitement    positive arousal                             head movement (yaw + pitch)
  Joy           Duchenne smile (AU6 with AU12)               not laughing
  ============= ============================================ ===============================

  Movement is total variation (sum of absolute frame-to-frame changes). Hesitancy is movement:
  it is present while a hesitation shows over most of the window (window mean of the mouth
  pull's strength at least ``AH_ON``) and swings in it (the pull's total variation at least
  ``AH_SWING``: the mouth shifts from side to side as the gaze darts back and forth). A
  lopsided mouth held still is not hesitancy.
- A face whose box lies less than ``MIN_VISIBLE`` inside the frame has no labels (missing).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.synth.trajectories import FaceTrack

# Intensity at and above which an AU is labelled present.
AU_ON = 0.5
# Frames the EMI and A/H rules look back over, newest included (0.27 s at 30 fps).
WINDOW = 8
# Total variation over a window at which each movement term reaches 1.
NOD_TV_DEG = 24.0
SHAKE_TV_DEG = 30.0
LAUGH_TV = 2.0
MOTION_TV_DEG = 30.0
# Share of a dynamic EMI dimension that its gate gives without any movement.
EMI_STATIC = 0.2
# Window mean of the hesitant mouth pull's strength at and above which hesitancy holds.
AH_ON = 0.5
# Total variation of the signed mouth pull over a window at and above which it swings: more
# than a pull appearing or going (1), less than one change of side (about 2); a held pull has 0.
AH_SWING = 1.5
# Fraction of the face box that must lie inside the frame for the face to be labelled.
MIN_VISIBLE = 0.6


def _windows(x: np.ndarray) -> np.ndarray:
    """(F, ..., WINDOW) causal windows of (F, ...) values, the first frame repeated before t=0."""
    padded = np.concatenate([np.repeat(x[:1], WINDOW - 1, axis=0), x])
    return sliding_window_view(padded, WINDOW, axis=0)


def _variation(x: np.ndarray) -> np.ndarray:
    """(F,) total variation of (F,) values over each window."""
    return np.abs(np.diff(_windows(x), axis=-1)).sum(axis=-1)


def _mean(x: np.ndarray) -> np.ndarray:
    return _windows(x).mean(axis=-1)


def au_labels(track: FaceTrack) -> np.ndarray:
    """(F, 12) int 0/1 AU presence, order labels.AU_NAMES."""
    return (track.au >= AU_ON).astype(np.int64)


def emi_frames(track: FaceTrack) -> np.ndarray:
    """(F, 6) EMI intensities in [0, 1] per frame, order labels.EMI_NAMES."""
    au = {name: track.au[:, k] for k, name in enumerate(AU_NAMES)}
    valence, arousal = _mean(track.valence), _mean(track.arousal)
    nod = np.clip(_variation(track.pitch) / NOD_TV_DEG, 0, 1)
    shake = np.clip(_variation(track.yaw) / SHAKE_TV_DEG, 0, 1)
    laugh = np.clip(_variation(au["AU26"]) / LAUGH_TV, 0, 1)
    motion = np.clip((_variation(track.yaw) + _variation(track.pitch)) / MOTION_TV_DEG, 0, 1)
    stern = _mean(np.maximum.reduce([au["AU4"], au["AU7"], au["AU24"]]))

    def dynamic(gate: np.ndarray, movement: np.ndarray) -> np.ndarray:
        return gate * (EMI_STATIC + (1 - EMI_STATIC) * movement)

    emi = {
        "Admiration": dynamic(np.clip(valence, 0, 1), nod),
        "Amusement": dynamic(_mean(au["AU12"]), laugh),
        "Determination": stern * (1 - motion),
        "Empathic Pain": dynamic(np.clip(-valence, 0, 1), shake),
        "Excitement": dynamic(np.clip(arousal, 0, 1), motion),
        "Joy": _mean(au["AU6"] * au["AU12"]) * (1 - laugh),
    }
    return np.clip(np.stack([emi[name] for name in EMI_NAMES], axis=1), 0.0, 1.0)


def ah_labels(track: FaceTrack) -> np.ndarray:
    """(F,) int 0/1 ambivalence/hesitancy: a hesitation shows over most of the window and
    swings from side to side in it."""
    shows = _mean(np.abs(track.hesitation)) >= AH_ON
    swings = _variation(track.hesitation) >= AH_SWING
    return (shows & swings).astype(np.int64)


def visible_fraction(box: np.ndarray, frame_size: tuple[int, int]) -> float:
    """Fraction of an xyxy box's area inside a (width, height) frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    if area == 0:
        return 0.0
    inside = max(min(x2, frame_size[0]) - max(x1, 0.0), 0.0) * max(
        min(y2, frame_size[1]) - max(y1, 0.0), 0.0
    )
    return inside / area


def video_emi(emi: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """(6,) one video's EMI row: the mean of its labelled frames (all frames if none is)."""
    rows = emi[labelled] if labelled.any() else emi
    return rows.mean(axis=0)
