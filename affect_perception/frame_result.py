"""`FrameResult`: what the pipeline returns for one frame, read by the node and the evaluator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from affect_perception.detections import Detections

# Per-face arrays that `AffectPipeline.process` puts in `FrameResult.faces.data`.
FACE_FIELDS: dict[str, tuple[int, ...]] = {
    "valence": (),          # float32 in [-1, 1]
    "arousal": (),          # float32 in [-1, 1]
    "au_prob": (12,),       # float32 in [0, 1], order labels.AU_NAMES
    "au_active": (12,),     # bool
    "emi": (6,),            # float32 in [0, 1], order labels.EMI_NAMES
    "ah_prob": (),          # float32 in [0, 1]
    "ah": (),               # bool
    "window_fill": (),      # int, frames held in the face's temporal window
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
        for key, shape in FACE_FIELDS.items():
            if key not in self.faces.data:
                raise ValueError(f"faces.data lacks {key!r}")
            got = np.shape(self.faces.data[key])
            if got != (n, *shape):
                raise ValueError(f"faces.data[{key!r}] must be {(n, *shape)}, got {got}")

    @property
    def warm(self) -> np.ndarray:
        """(n,) bool: the face's window is full."""
        return np.asarray(self.faces.data["window_fill"]) >= self.window_size
