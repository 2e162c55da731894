"""Per-track state behind one protocol, the store of each track's last outputs, and the
book that keeps every store in step.

The pipeline keeps state per track id in several stores (the tracker, the feature windows, the
last temporal outputs, the neutral baselines, the smoother); each is a :class:`TrackState`, so
:class:`TrackBook` forgets an ended track, or every track, by looping over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from affect_perception.detections import Detections
from affect_perception.runtime.baseline import BaselineTracker
from affect_perception.runtime.smoothing import OutputSmoother
from affect_perception.runtime.tracker import FaceTracker
from affect_perception.runtime.windows import FeatureWindows


@runtime_checkable
class TrackState(Protocol):
    """State kept per track id."""

    def remove(self, track_ids: Sequence[str]) -> None:
        """Forget these tracks (unknown ids are ignored)."""
        ...

    def reset(self) -> None:
        """Forget every track."""
        ...


class LastOutputs:
    """Each track's last temporal-model outputs, reused on frames without the temporal model.

    They belong to the track's window: the pipeline removes them when the window is evicted,
    so a track seen again gets outputs from its new window.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, np.ndarray]] = {}

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def store(self, track_ids: Sequence[str], outputs: dict[str, np.ndarray]) -> None:
        """Keep row i of each output (name -> (n, ...)) for ``track_ids[i]``."""
        for i, track in enumerate(track_ids):
            self._rows[track] = {name: values[i] for name, values in outputs.items()}

    def stack(self, track_ids: Sequence[str], names: Iterable[str]) -> dict[str, np.ndarray]:
        """name -> (n, ...) the stored rows of ``track_ids`` (each must be stored)."""
        return {name: np.stack([self._rows[t][name] for t in track_ids]) for name in names}

    def remove(self, track_ids: Sequence[str]) -> None:
        for track in track_ids:
            self._rows.pop(track, None)

    def reset(self) -> None:
        self._rows.clear()


class TrackBook:
    """The pipeline's per-track stores, kept in step frame by frame.

    `follow` runs the tracker on a frame and makes every store forget the tracks it ended;
    `push` appends the frame's features to the windows (the windows of tracks not in the
    frame count a miss) and drops the last outputs of windows evicted to make room.

    Attributes:
        tracker, windows, baseline: the stores of the same name.
        last_outputs: each track's last temporal outputs.
        smoother: the output smoother, or None when smoothing is off (replaceable).
    """

    def __init__(
        self,
        tracker: FaceTracker,
        windows: FeatureWindows,
        baseline: BaselineTracker,
        smoother: OutputSmoother | None = None,
    ) -> None:
        self.tracker, self.windows, self.baseline = tracker, windows, baseline
        self.last_outputs = LastOutputs()
        self.smoother = smoother

    @property
    def stores(self) -> list[TrackState]:
        """Every store, the smoother included when on."""
        stores: list[TrackState] = [self.tracker, self.windows, self.last_outputs, self.baseline]
        return stores + ([self.smoother] if self.smoother is not None else [])

    def follow(self, detections: Detections | None) -> Detections:
        """The confirmed tracks in this frame: matched to ``detections``, or predicted when
        None (a frame without detection); ended tracks are forgotten everywhere."""
        faces = self.tracker.predict() if detections is None else self.tracker.update(detections)
        if self.tracker.removed:
            self.remove(self.tracker.removed)
        return faces

    def push(self, track_ids: Sequence[str], features: dict[str, np.ndarray]) -> None:
        """One frame of features for ``track_ids``; the other windows count a miss."""
        shown = set(track_ids)
        self.windows.mark_missed([t for t in self.windows.track_ids if t not in shown])
        self.windows.push(track_ids, features)
        self.last_outputs.remove(self.windows.evicted)  # they belonged to that window

    def remove(self, track_ids: Sequence[str]) -> None:
        """Forget these tracks in every store."""
        for store in self.stores:
            store.remove(track_ids)

    def reset(self) -> None:
        """Forget every track in every store."""
        for store in self.stores:
            store.reset()
