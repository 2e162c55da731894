"""`FrameResult`: what the pipeline returns for one frame, read by the node and the evaluator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affect_perception.detections import Detections

# Per-face arrays that `AffectPipeline.process` puts in `FrameResult.faces.data`.
FACE_FIELDS: dict[str, tuple[int, ...]] = {
    "valence": (),  # float32 in [-1, 1]
    "arousal": (),  # float32 in [-1, 1]
    "au_prob": (12,),  # float32 in [0, 1], order labels.AU_NAMES
    "au_active": (12,),  # bool
    "emi": (6,),  # float32 in [0, 1], order labels.EMI_NAMES
    "ah_prob": (),  # float32 in [0, 1]
    "ah": (),  # bool
    "window_fill": (),  # int, frames held in the face's temporal window
}

# Per-face arrays the pipeline adds besides FACE_FIELDS (quality, runtime/quality.py, and the
# neutral baseline, runtime/baseline.py). Other producers of FrameResults (ground truth, bags)
# may leave them out: `FrameResult.field` then gives the value they stand for.
EXTRA_FACE_FIELDS: dict[str, tuple[int, ...]] = {
    "face_size": (),  # float32 shorter box side in pixels
    "frontalness": (),  # float32 in [0, 1], NaN without keypoints
    "sharpness": (),  # float32 variance of the Laplacian of the aligned crop
    "window_real": (),  # int, frames of the window seen rather than carried over
    "reliable": (),  # bool, warm and every quality threshold met
    "valence_corrected": (),  # float32 in [-1, 1], relative to the person's neutral baseline
    "arousal_corrected": (),  # float32 in [-1, 1]
    "au_prob_corrected": (12,),  # float32 in [0, 1]
    "baseline_frames": (),  # int, neutral frames in the person's baseline
}


@dataclass
class FrameResult:
    """Affect of every tracked face in one frame.

    Attributes:
        stamp: the source frame's time in seconds.
        image_size: (width, height) of the source frame.
        faces: confirmed tracks with ids and the FACE_FIELDS arrays in ``data``.
        window_size: frames a window needs to be warm.
        model_id: id of the model that produced the outputs.
        timings_ms: milliseconds spent in each pipeline stage for this frame.
    """

    stamp: float
    image_size: tuple[int, int]
    faces: Detections
    window_size: int
    model_id: str
    timings_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.faces)
        for key, shape in {**FACE_FIELDS, **EXTRA_FACE_FIELDS}.items():
            if key not in self.faces.data:
                if key in FACE_FIELDS:
                    raise ValueError(f"faces.data lacks {key!r}")
                continue
            got = np.shape(self.faces.data[key])
            if got != (n, *shape):
                raise ValueError(f"faces.data[{key!r}] must be {(n, *shape)}, got {got}")

    @property
    def warm(self) -> np.ndarray:
        """(n,) bool: the face's window is full."""
        return np.asarray(self.faces.data["window_fill"]) >= self.window_size

    def face_values(self, key: str) -> np.ndarray:
        """A FACE_FIELDS or EXTRA_FACE_FIELDS array; an absent extra stands for what it would
        be without quality figures or baseline: the box's shorter side, NaN frontalness and
        sharpness, every window frame real, reliable when warm, corrected values equal to the
        raw ones, no baseline frames."""
        data = self.faces.data
        if key in data:
            return np.asarray(data[key])
        defaults = {
            "face_size": lambda: np.clip(self.faces.wh.min(axis=1), 0, None),
            "frontalness": lambda: np.full(len(self.faces), np.nan, np.float32),
            "sharpness": lambda: np.full(len(self.faces), np.nan, np.float32),
            "window_real": lambda: np.asarray(data["window_fill"]),
            "reliable": lambda: self.warm,
            "valence_corrected": lambda: np.asarray(data["valence"]),
            "arousal_corrected": lambda: np.asarray(data["arousal"]),
            "au_prob_corrected": lambda: np.asarray(data["au_prob"]),
            "baseline_frames": lambda: np.zeros(len(self.faces), np.int64),
        }
        if key not in defaults:
            raise KeyError(
                f"{key!r} is not a face field; known: "
                f"{', '.join([*FACE_FIELDS, *EXTRA_FACE_FIELDS])}"
            )
        return defaults[key]()


# Largest values of the unsigned message fields.
UINT16_MAX = 65535
UINT32_MAX = 2**32 - 1


def message_extras(result: FrameResult, index: int) -> dict[str, object]:
    """The AffectState fields for quality and baseline of face ``index``, as message field
    name -> value (Python scalars, float32 arrays), for rclpy and rosbags messages alike."""

    def get(key: str) -> Any:  # a numpy scalar or array of face ``index``
        return result.face_values(key)[index]

    return {
        "face_size": float(get("face_size")),
        "frontalness": float(get("frontalness")),
        "sharpness": float(get("sharpness")),
        "window_real_frames": int(min(get("window_real"), UINT16_MAX)),
        "reliable": bool(get("reliable")),
        "valence_corrected": float(get("valence_corrected")),
        "arousal_corrected": float(get("arousal_corrected")),
        "au_probabilities_corrected": np.asarray(get("au_prob_corrected"), np.float32),
        "baseline_frames": int(min(get("baseline_frames"), UINT32_MAX)),
    }
