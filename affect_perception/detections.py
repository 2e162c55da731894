"""`Detections`: the one data type passed between detector, tracker, pipeline and outputs.

The detector returns it, the tracker takes and returns it, the pipeline's per-face outputs
travel in it inside a `FrameResult`; the windows and the engine work on track ids and arrays.

A struct of arrays, one row per face, validated on construction (after supervision's
``Detections``). Per-face results of later stages (track ids, affect outputs, quality
figures) travel in ``data`` as arrays whose first axis is the face axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

# BlazeFace keypoint order: right eye, left eye, nose tip, mouth centre, right ear, left ear
# (right/left as seen by the person). Detectors without keypoints fill NaN.
NUM_KEYPOINTS = 6


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) float64 intersection over union of (n, 4) and (m, 4) xyxy boxes (0 where empty)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Detections:
    """Faces found in one frame.

    Attributes:
        xyxy: (n, 4) float32 boxes in pixels, x1 <= x2, y1 <= y2.
        score: (n,) float32 detector confidences in [0, 1].
        keypoints: (n, 6, 2) float32 pixel keypoints, NaN where the detector gives none.
        track_id: (n,) object array of track-id strings, None until the tracker assigns one.
        data: extra per-face arrays, each with first dimension n.
    """

    xyxy: np.ndarray
    score: np.ndarray
    keypoints: np.ndarray | None = None
    track_id: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (_, 4), got {self.xyxy.shape}")
        self.score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        if self.score.shape != (n,):
            raise ValueError(f"score must be ({n},), got {self.score.shape}")
        if self.keypoints is None:
            self.keypoints = np.full((n, NUM_KEYPOINTS, 2), np.nan, dtype=np.float32)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if self.keypoints.shape != (n, NUM_KEYPOINTS, 2):
            raise ValueError(
                f"keypoints must be ({n}, {NUM_KEYPOINTS}, 2), got {self.keypoints.shape}"
            )
        if self.track_id is None:
            self.track_id = np.full(n, None, dtype=object)
        self.track_id = np.asarray(self.track_id, dtype=object).reshape(-1)
        if self.track_id.shape != (n,):
            raise ValueError(f"track_id must be ({n},), got {self.track_id.shape}")
        for key, value in self.data.items():
            value = np.asarray(value)
            if value.ndim == 0 or value.shape[0] != n:
                raise ValueError(f"data[{key!r}] must have first dimension {n}, got {value.shape}")
            self.data[key] = value

    @classmethod
    def empty(cls) -> "Detections":
        """No faces."""
        return cls(xyxy=np.zeros((0, 4), np.float32), score=np.zeros(0, np.float32))

    @classmethod
    def merge(cls, parts: list["Detections"]) -> "Detections":
        """Concatenate several Detections; every part must carry the same data keys."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        if any(set(p.data) != keys for p in parts):
            raise ValueError("all Detections to merge must carry the same data keys")
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            score=np.concatenate([p.score for p in parts]),
            keypoints=np.concatenate([p.keypoints for p in parts]),
            track_id=np.concatenate([p.track_id for p in parts]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> "Detections":
        """Select rows with an int, slice, index array or boolean mask."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            score=self.score[index],
            keypoints=self.keypoints[index],
            track_id=self.track_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    def __iter__(self) -> Iterator["Detections"]:
        for i in range(len(self)):
            yield self[i]

    @property
    def area(self) -> np.ndarray:
        """(n,) box areas in square pixels."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    @property
    def wh(self) -> np.ndarray:
        """(n, 2) box widths and heights in pixels."""
        return self.xyxy[:, 2:] - self.xyxy[:, :2]
