"""Training targets from the teachers' view of each track, and the tracks as training videos.

Per taught face-frame: valence = P(happy) − P(sad, angry, fearful, disgusted) and Joy =
Amusement = P(happy), each the mean of the two expression teachers (`expression_signals`);
each landmark AU proxy (`geometry.AU_PROXIES`) is the change from the track's neutral, scaled
to [0, 1]: 0 at or below the neutral, 1 at the ``AU_SCALE_QUANTILE`` of the proxy's size over
every taught face-frame of the recordings. A track's neutral is the mean landmark geometry of
its frames the teachers call neutral; a track with none (someone who smiles all the time)
takes the neutral of every such frame of the recordings, and if there is none at all, of every
frame. Frames between taught ones hold the nearest taught frame's targets. Only these outputs
carry a loss: arousal, the other AUs and EMI, and hesitancy are masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from affect_perception.labels import AU_NAMES, EMI_NAMES, TASK_DIMS
from affect_perception.realfaces.teachers import geometry
from affect_perception.realfaces.teachers.ensemble import CLASSES, expression_signals
from affect_perception.train.datasets import VideoData

# The outputs the teachers give targets for, per task.
COVERED: dict[str, tuple[str, ...]] = {
    "va": ("valence",),
    "au": tuple(a for a in AU_NAMES if a in geometry.AU_PROXIES),
    "emi": ("Amusement", "Joy"),
    "ah": (),
}
# Quantile of |proxy| over the recordings' taught face-frames that maps to an AU target of 1.
AU_SCALE_QUANTILE = 0.9
# Smallest AU scale (landmark features are fractions of the eye distance).
MIN_AU_SCALE = 1e-3


def frame_signals(taught: dict[str, Any]) -> dict[str, Any]:
    """One taught face-frame's expression signals (mean of the teachers) and features."""
    probs = np.mean([np.asarray(p) for p in taught["expressions"].values()], axis=0)
    signals = expression_signals(probs)
    return {
        "valence": signals["valence"],
        "Joy": signals["Joy"],
        "Amusement": signals["Amusement"],
        "neutral": CLASSES[int(np.argmax(probs))] == "neutral",
        "features": taught["features"],
    }


def neutrals(tracks: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The neutral landmark geometry of each track (see module docstring)."""
    signals = {
        n: [frame_signals(t) for t in track["taught"].values()] for n, track in tracks.items()
    }
    calm = [s["features"] for frames in signals.values() for s in frames if s["neutral"]]
    everything = [s["features"] for frames in signals.values() for s in frames]
    if not everything:
        raise ValueError(
            "no face-frame was taught: the recordings hold no face the detector "
            "and tracker confirm"
        )
    population = geometry.mean_features(calm or everything)
    own = {n: [s["features"] for s in frames if s["neutral"]] for n, frames in signals.items()}
    return {n: geometry.mean_features(f) if f else population for n, f in own.items()}


def au_scales(
    tracks: dict[str, dict[str, Any]], neutral: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Per covered AU, the proxy size mapped to a target of 1."""
    proxies = [
        geometry.au_proxies(t["features"], neutral[n])
        for n, track in tracks.items()
        for t in track["taught"].values()
    ]
    return {
        au: max(float(np.quantile([abs(p[au]) for p in proxies], AU_SCALE_QUANTILE)), MIN_AU_SCALE)
        for au in COVERED["au"]
    }


def _nearest_taught(frames: int, taught: list[int]) -> np.ndarray:
    """(frames,) index into ``taught`` (sorted) of the nearest taught frame."""
    positions = np.asarray(taught)
    return np.abs(np.arange(frames)[:, None] - positions[None, :]).argmin(axis=1)


def track_video(
    name: str,
    track: dict[str, Any],
    frame_dir: Path,
    neutral: dict[str, float],
    scales: dict[str, float],
) -> VideoData:
    """One track as a training video with the covered outputs' targets and masks."""
    taught = sorted(int(f) for f in track["taught"])
    if not taught:
        raise ValueError(f"track {name} has no taught frame")
    count = int(track["frames"])
    rows = {
        "va": np.zeros((len(taught), TASK_DIMS["va"]), np.float32),
        "au": np.zeros((len(taught), TASK_DIMS["au"]), np.float32),
        "emi": np.zeros((len(taught), TASK_DIMS["emi"]), np.float32),
    }
    for k, frame in enumerate(taught):
        s = frame_signals(track["taught"][str(frame)])
        rows["va"][k, 0] = s["valence"]
        proxies = geometry.au_proxies(s["features"], neutral)
        for au in COVERED["au"]:
            rows["au"][k, AU_NAMES.index(au)] = np.clip(proxies[au] / scales[au], 0.0, 1.0)
        for output in COVERED["emi"]:
            rows["emi"][k, EMI_NAMES.index(output)] = s[output]
    nearest = _nearest_taught(count, taught)
    labels = {t: v[nearest] for t, v in rows.items()}
    labels["ah"] = np.zeros((count, TASK_DIMS["ah"]), np.float32)
    masks = {
        "va": np.zeros((count, TASK_DIMS["va"]), bool),
        "au": np.zeros((count, TASK_DIMS["au"]), bool),
        "emi": np.zeros((count, TASK_DIMS["emi"]), bool),
        "ah": np.zeros(count, bool),
    }
    masks["va"][:, 0] = True
    masks["au"][:, [AU_NAMES.index(a) for a in COVERED["au"]]] = True
    masks["emi"][:, [EMI_NAMES.index(e) for e in COVERED["emi"]]] = True
    return VideoData(name, frame_dir, np.ones(count, bool), labels, masks, emi_per_frame=True)


def column_masks(video: VideoData) -> VideoData:
    """``video`` with its row masks of VA and EMI widened to one column per output, so it can
    share training batches with the pseudo-labelled tracks (whose masks cover columns)."""
    masks = dict(video.masks)
    for task in ("va", "emi"):
        if masks[task].ndim == 1:
            masks[task] = np.repeat(masks[task][:, None], TASK_DIMS[task], axis=1)
    return VideoData(
        video.name, video.frame_dir, video.present, video.labels, masks, video.emi_per_frame
    )


def track_summary(track: dict[str, Any], neutral: dict[str, float]) -> dict[str, float]:
    """A track's mean teacher signals (valence, Joy, AU12 proxy): one point of the held-out
    agreement."""
    signals = [frame_signals(t) for t in track["taught"].values()]
    return {
        "valence": float(np.mean([s["valence"] for s in signals])),
        "Joy": float(np.mean([s["Joy"] for s in signals])),
        "AU12": float(
            np.mean([geometry.au_proxies(s["features"], neutral)["AU12"] for s in signals])
        ),
    }
