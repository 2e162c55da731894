"""Evaluation: alignment and scoring on hand-made frames, and the eval command on small bags."""

from __future__ import annotations

import numpy as np
import pytest

from affect_perception.detections import Detections
from affect_perception.evaluation.align import (
    assign,
    iou,
    pair_with_rows,
    pair_with_truth,
)
from affect_perception.frame_result import FrameResult


def frame(boxes: list[list[float]], ids: list[str], valence: list[float],
          window_fill: int = 8, stamp: float = 0.0) -> FrameResult:
    """A FrameResult with the given boxes, ids and valence; other fields fixed."""
    n = len(boxes)
    data = {"valence": np.array(valence, np.float32), "arousal": np.zeros(n, np.float32),
            "au_prob": np.full((n, 12), 0.75, np.float32), "au_active": np.ones((n, 12), bool),
            "emi": np.full((n, 6), 0.5, np.float32), "ah_prob": np.zeros(n, np.float32),
            "ah": np.zeros(n, bool), "window_fill": np.full(n, window_fill, np.int64)}
    faces = Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), score=np.ones(n),
                       track_id=np.array(ids, dtype=object), data=data)
    return FrameResult(stamp=stamp, image_size=(640, 480), faces=faces, window_size=8,
                       model_id="test")


LEFT, RIGHT = [0, 0, 100, 100], [200, 0, 300, 100]


@pytest.mark.parametrize(("a", "b", "expected"), [
    (LEFT, LEFT, 1.0),                      # the same box
    (LEFT, RIGHT, 0.0),                     # apart
    (LEFT, [50, 0, 150, 100], 1 / 3),       # half of each overlaps
    (LEFT, [0, 0, 50, 50], 0.25),           # one inside the other
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),      # empty boxes: no division by zero
])
def test_iou(a: list[float], b: list[float], expected: float) -> None:
    assert iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


@pytest.mark.parametrize(("pred", "truth", "pairs"), [
    ([LEFT, RIGHT], [RIGHT, LEFT], [(0, 1), (1, 0)]),           # order does not matter
    ([[40, 0, 140, 100]], [LEFT], [(0, 0)]),                    # IoU 0.43 >= 0.3
    ([[70, 0, 170, 100]], [LEFT], []),                          # IoU 0.18 < 0.3
    ([LEFT, [5, 5, 105, 105]], [LEFT], [(0, 0)]),               # one truth, the better track
    ([], [LEFT], []),                                           # no prediction
])
def test_assign(pred: list, truth: list, pairs: list) -> None:
    def dets(boxes: list) -> Detections:
        return Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4),
                          score=np.ones(len(boxes)))

    assert sorted(assign(dets(pred), dets(truth))) == pairs


def test_pairing_follows_boxes_skips_cold_windows_and_counts_drops() -> None:
    stamps = [10, 20, 30, 40]
    truth = {s: frame([LEFT, RIGHT], ["person0", "person1"], [0.1 * i, -0.1 * i], 0)
             for i, s in enumerate(stamps)}
    predictions = [
        frame([RIGHT, LEFT], ["f1", "f2"], [-0.5, 0.5], window_fill=3),  # cold: not scored
        frame([RIGHT, LEFT], ["f1", "f2"], [-0.6, 0.6]),
        None,                                                             # dropped
        frame([RIGHT], ["f1"], [-0.8]),                                   # person0 missed
    ]
    series, stats = pair_with_truth(stamps, predictions, truth)
    assert (stats.labelled_faces, stats.matched_faces, stats.scored_faces) == (8, 5, 3)
    assert stats.missing_predictions == 1
    assert list(series.person) == ["person0", "person1", "person1"]  # person-major
    assert list(series.frame) == [1, 1, 3]
    np.testing.assert_allclose(series.pred["va"][:, 0], [0.6, -0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(series.label["va"][:, 0], [0.1, -0.1, -0.3], rtol=1e-6)
    assert stats.tracks_per_person == {"person0": {"f2"}, "person1": {"f1"}}
    every, _ = pair_with_truth(stamps, predictions, truth, warm_only=False)
    assert len(every) == 5


def test_rows_pair_with_the_largest_face() -> None:
    small, large = [0, 0, 50, 50], [100, 100, 300, 300]
    predictions = [frame([small, large], ["a", "b"], [0.9, 0.2]), frame([], [], []), None]
    labels = {"va": np.array([[0.25, 0.0], [0.5, 0.0], [0.75, 0.0]])}
    series, stats = pair_with_rows([1, 2, 3], predictions, labels, "video")
    assert list(series.frame) == [0] and series.pred["va"][0, 0] == pytest.approx(0.2)
    assert stats.missing_predictions == 1 and stats.scored_faces == 1
    with pytest.raises(ValueError, match="one row per frame"):
        pair_with_rows([1, 2], predictions[:2], labels, "video")
