"""Hand-made FrameResults for the conversion, overlay and node tests."""

from __future__ import annotations

import numpy as np

from affect_perception.detections import Detections
from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_NAMES, EMI_NAMES

WINDOW = 8


def make_result(
    boxes: list[tuple[float, float, float, float]],
    *,
    fill: list[int] | None = None,
    valence: list[float] | None = None,
    hesitant: list[bool] | None = None,
    size: tuple[int, int] = (320, 240),
    stamp: float = 12.5,
) -> FrameResult:
    """A FrameResult with one face per box; ids f0001, f0002, ...; other outputs fixed."""
    n = len(boxes)
    au_prob = np.tile(np.linspace(0.05, 0.95, len(AU_NAMES), dtype=np.float32), (n, 1))
    hesitant = [False] * n if hesitant is None else hesitant
    faces = Detections(
        xyxy=np.array(boxes, np.float32).reshape(n, 4),
        score=np.full(n, 0.9, np.float32),
        track_id=np.array([f"f{i + 1:04d}" for i in range(n)], dtype=object),
        data={
            "valence": np.array(valence if valence is not None else [0.25] * n, np.float32),
            "arousal": np.full(n, -0.5, np.float32),
            "au_prob": au_prob,
            "au_active": au_prob >= 0.5,
            "emi": np.full((n, len(EMI_NAMES)), 0.3, np.float32),
            "ah_prob": np.where(hesitant, 0.8, 0.2).astype(np.float32),
            "ah": np.array(hesitant, bool),
            "window_fill": np.array(fill if fill is not None else [WINDOW] * n, np.int64),
        },
    )
    return FrameResult(
        stamp=stamp, image_size=size, faces=faces, window_size=WINDOW, model_id="test-model"
    )
