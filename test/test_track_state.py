"""The per-track state protocol: every store the pipeline keeps per face forgets the tracks it
is told to and everything on reset, and the pipeline's TrackBook holds them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from affect_perception.detections import Detections
from affect_perception.runtime.baseline import BaselineConfig, BaselineTracker
from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig
from affect_perception.runtime.smoothing import EmaSmoother, OneEuroConfig
from affect_perception.runtime.track_state import LastOutputs, TrackBook, TrackState
from affect_perception.runtime.tracker import FaceTracker, TrackerConfig
from affect_perception.runtime.windows import FeatureWindows

IDS = ["f0001", "f0002"]
BOXES = np.array([[10, 10, 60, 60], [200, 10, 250, 60]], np.float32)


def tracker_with_two() -> tuple[FaceTracker, Callable[[], list[str]]]:
    tracker = FaceTracker(TrackerConfig(n_init=1))
    tracker.update(Detections(xyxy=BOXES, score=np.full(2, 0.9, np.float32)))
    return tracker, lambda: [str(t) for t in tracker.predict().track_id]


def windows_with_two() -> tuple[FeatureWindows, Callable[[], list[str]]]:
    windows = FeatureWindows(4, {"f": (2,)}, max_tracks=4, max_gap=2)
    windows.push(IDS, {"f": np.ones((2, 2), np.float32)})
    return windows, lambda: windows.track_ids


def last_outputs_with_two() -> tuple[LastOutputs, Callable[[], list[str]]]:
    last = LastOutputs()
    last.store(IDS, {"va": np.zeros((2, 2), np.float32)})
    return last, lambda: [t for t in IDS if t in last]


def baseline_with_two() -> tuple[BaselineTracker, Callable[[], list[str]]]:
    baseline = BaselineTracker(BaselineConfig(enabled=True))
    values = {
        "valence": np.zeros(2, np.float32),
        "arousal": np.zeros(2, np.float32),
        "au_prob": np.zeros((2, 12), np.float32),
        "au_active": np.zeros((2, 12), bool),
    }
    baseline.update(IDS, 0.0, values, np.ones(2, bool), np.zeros((2, 2)))
    return baseline, lambda: baseline.track_ids


def smoother_with_two(make: Callable[[], Any]) -> Callable[[], tuple[Any, Callable]]:
    def build() -> tuple[Any, Callable[[], list[str]]]:
        smoother = make()
        smoother(
            IDS,
            {
                "va": np.zeros((2, 2), np.float32),
                "au": np.zeros((2, 12), np.float32),
                "emi": np.zeros((2, 6), np.float32),
            },
            0.0,
        )
        held = getattr(smoother, "smoothers", {"all": smoother})
        return smoother, lambda: sorted({t for s in held.values() for t in s._state})

    return build


@pytest.mark.parametrize(
    "build",
    [
        tracker_with_two,
        windows_with_two,
        last_outputs_with_two,
        baseline_with_two,
        smoother_with_two(lambda: EmaSmoother(0.5)),
        smoother_with_two(lambda: OneEuroConfig().smoother()),  # one filter per signal group
    ],
)
def test_every_store_forgets_removed_tracks_and_everything_on_reset(build: Callable) -> None:
    store, held = build()
    assert isinstance(store, TrackState)
    assert held() == IDS
    store.remove(["f0001", "never-seen"])
    assert held() == ["f0002"]
    store.reset()
    assert held() == []


def test_an_ended_track_is_forgotten_by_every_store() -> None:
    tracker = FaceTracker(TrackerConfig(n_init=1, max_misses=0))
    book = TrackBook(
        tracker,
        FeatureWindows(4, {"f": (2,)}, max_tracks=4, max_gap=2),
        BaselineTracker(BaselineConfig()),
        EmaSmoother(0.5),
    )
    shown = book.follow(Detections(xyxy=BOXES, score=np.full(2, 0.9, np.float32)))
    ids = [str(t) for t in shown.track_id]
    book.push(ids, {"f": np.ones((2, 2), np.float32)})
    book.last_outputs.store(ids, book.smoother(ids, {"va": np.zeros((2, 2), np.float32)}, 0.0))
    book.follow(Detections(xyxy=BOXES[1:], score=np.full(1, 0.9, np.float32)))  # f0001 ends
    assert tracker.removed == ["f0001"]
    assert book.windows.track_ids == ["f0002"] and "f0001" not in book.last_outputs
    assert len(book.smoother) == 1
    book.reset()
    assert tracker.tracks == len(book.windows) == len(book.last_outputs) == 0
    assert len(book.smoother) == 0


def test_the_pipeline_keeps_every_store_in_its_book(random_model_dir: Path) -> None:
    pipeline = AffectPipeline(
        PipelineConfig(model_dir=random_model_dir, intra_op_threads=1, ema_alpha=0.5)
    )
    book = pipeline.tracks
    assert [type(s).__name__ for s in book.stores] == [
        "FaceTracker",
        "FeatureWindows",
        "LastOutputs",
        "BaselineTracker",
        "EmaSmoother",
    ]
    assert (pipeline.tracker, pipeline.windows, pipeline.baseline, pipeline.smoother) == (
        book.tracker,
        book.windows,
        book.baseline,
        book.smoother,
    )
