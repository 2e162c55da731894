"""FaceTracker on synthetic boxes: crossing faces, gaps, id lifetime, prediction, memory."""

from __future__ import annotations

import numpy as np
import pytest

from affect_perception.detections import Detections
from affect_perception.runtime.tracker import FaceTracker, TrackerConfig, assign, match_cost

SIDE = 80.0  # face box side in pixels
# Frames of the churn test: 100,000 take ~25 s of CPU on the 2-core CI box (~0.2 ms a frame),
# so 10,000, in which ~400 faces come and go while the track count must stay flat.
CHURN_FRAMES = 10_000


def boxes(*centres: tuple[float, float], side: float = SIDE) -> Detections:
    """Square faces at the given centres, with keypoints at fixed places inside each box."""
    c = np.array(centres, dtype=np.float64).reshape(-1, 2)
    xyxy = np.concatenate([c - side / 2, c + side / 2], axis=1)
    offsets = np.array([[-0.2, -0.1], [0.2, -0.1], [0, 0.05], [0, 0.25], [-0.45, 0], [0.45, 0]])
    return Detections(
        xyxy=xyxy,
        score=np.linspace(0.9, 0.8, len(c)),
        keypoints=c[:, None, :] + offsets[None] * side,
    )


def ids_by_row(out: Detections) -> list[str]:
    return [str(t) for t in out.track_id]


def test_new_faces_appear_after_n_init_hits() -> None:
    tracker = FaceTracker(TrackerConfig(n_init=3))
    outs = [tracker.update(boxes((100, 100), (400, 100))) for _ in range(4)]
    assert [len(o) for o in outs] == [0, 0, 2, 2]
    assert ids_by_row(outs[2]) == ids_by_row(outs[3]) == ["f0001", "f0002"]
    assert not outs[3].data["predicted"].any()
    assert tracker.tracks == 2


def test_single_hit_config_reports_at_once_with_detector_values() -> None:
    dets = boxes((100, 100), (400, 120))
    out = FaceTracker(TrackerConfig(n_init=1)).update(dets)
    assert ids_by_row(out) == ["f0001", "f0002"]
    np.testing.assert_array_equal(out.xyxy, dets.xyxy)
    np.testing.assert_array_equal(out.keypoints, dets.keypoints)
    np.testing.assert_array_equal(out.score, dets.score)


@pytest.mark.parametrize("y_offset", [0.0, 20.0, 40.0])  # head-on to half-overlapping
def test_crossing_faces_keep_their_ids(y_offset: float) -> None:
    tracker = FaceTracker(TrackerConfig(n_init=2))
    rng = np.random.default_rng(1)
    right_id = left_id = None
    for f in range(60):
        a, b = (100 + 8 * f, 200.0), (580 - 8 * f, 200.0 + y_offset)  # meet at f = 30
        flip = bool(rng.integers(2))  # detector order must not matter
        out = tracker.update(boxes(*((b, a) if flip else (a, b))))
        if f < 1:
            continue
        centre_x = (out.xyxy[:, 0] + out.xyxy[:, 2]) / 2
        row_a = int(np.argmin(np.abs(centre_x - a[0]))) if f != 30 else None
        if row_a is None:  # identical x at the crossing frame: only check both ids survive
            assert set(ids_by_row(out)) == {right_id, left_id}
            continue
        got_a, got_b = out.track_id[row_a], out.track_id[1 - row_a]
        right_id, left_id = right_id or got_a, left_id or got_b
        assert (got_a, got_b) == (right_id, left_id), f"ids swapped at frame {f}"


@pytest.mark.parametrize(("gap", "same_id"), [(1, True), (10, True), (11, False)])
def test_face_returning_within_max_misses_keeps_its_id(gap: int, same_id: bool) -> None:
    tracker = FaceTracker(TrackerConfig(n_init=2, max_misses=10))
    first = [tracker.update(boxes((200, 200))) for _ in range(3)][-1].track_id[0]
    removed_at = []
    for f in range(gap):
        assert len(tracker.update(Detections.empty())) == 0
        if tracker.removed:
            removed_at.append((f, list(tracker.removed)))
    again = [tracker.update(boxes((202, 201))) for _ in range(2)][-1].track_id[0]
    assert (again == first) is same_id
    assert removed_at == ([] if same_id else [(10, [first])])


def test_ids_are_never_reused_and_counted_per_tracker() -> None:
    one, two = FaceTracker(TrackerConfig(n_init=1, max_misses=0)), FaceTracker()
    seen = []
    for f in range(6):
        seen += ids_by_row(one.update(boxes((100 + 300 * (f % 2), 100))))
        one.reset()
    assert seen == [f"f{i:04d}" for i in range(1, 7)]
    assert ids_by_row(FaceTracker(TrackerConfig(n_init=1)).update(boxes((5, 5)))) == ["f0001"]
    assert two.tracks == 0


def test_reset_reports_confirmed_ids_only() -> None:
    tracker = FaceTracker(TrackerConfig(n_init=2))
    tracker.update(boxes((100, 100)))
    tracker.update(boxes((100, 100), (400, 400)))  # second face still tentative
    tracker.reset()
    assert tracker.removed == ["f0001"] and tracker.tracks == 0


def test_predict_moves_boxes_and_keypoints_with_velocity() -> None:
    tracker = FaceTracker(TrackerConfig(n_init=2))
    velocity = np.array([6.0, -3.0])
    for f in range(30):
        out = tracker.update(boxes(tuple(np.array([100.0, 300.0]) + f * velocity)))
    last = out
    for k in range(1, 4):
        pred = tracker.predict()
        assert ids_by_row(pred) == ids_by_row(last) and pred.data["predicted"].all()
        np.testing.assert_allclose(pred.xyxy, last.xyxy + k * np.tile(velocity, 2), atol=0.05)
        np.testing.assert_allclose(pred.keypoints, last.keypoints + k * velocity, atol=0.05)
        assert pred.score[0] == pytest.approx(last.score[0])
    # predicted frames are neither hits nor misses, and the track is found again after them
    assert tracker.removed == [] and tracker.tracks == 1
    back = tracker.update(boxes(tuple(np.array([100.0, 300.0]) + 33 * velocity)))
    assert ids_by_row(back) == ids_by_row(last)


def test_predict_leaves_out_tentative_and_missing_tracks() -> None:
    tracker = FaceTracker(TrackerConfig(n_init=2, max_misses=5))
    for _ in range(2):
        tracker.update(boxes((100, 100)))
    tracker.update(boxes((400, 400)))  # f0001 missed, f0002 tentative
    assert len(tracker.predict()) == 0 and tracker.tracks == 2
    assert tracker.predict().data["predicted"].dtype == bool


def test_memory_bounded_while_faces_come_and_go() -> None:
    config = TrackerConfig(n_init=2, max_misses=3)
    tracker = FaceTracker(config)
    rng = np.random.default_rng(0)
    places = [(100.0, 100.0), (400.0, 100.0), (100.0, 400.0), (400.0, 400.0)]
    # each frame shows a subset of four places; a face flickers in and out ~every 20 frames
    subsets = [
        boxes(*[p for i, p in enumerate(places) if m >> i & 1]) if m else Detections.empty()
        for m in range(16)
    ]
    present = np.zeros(4, bool)
    masks = []
    for flips in rng.random((CHURN_FRAMES, 4)) < 0.05:
        present ^= flips
        masks.append(int(present @ [1, 2, 4, 8]))
    live_max, dead, reported = 0, set(), set()
    for mask in masks:
        out = tracker.update(subsets[mask])
        ids = set(out.track_id)
        assert not ids & dead, "an id came back after it was removed"
        reported |= ids
        dead.update(tracker.removed)
        live_max = max(live_max, tracker.tracks)
    # a face coming back to a place within max_misses takes up its old track: one per place
    assert live_max == len(places)
    assert len(reported) > 300  # many faces came and went
    assert len(dead) >= len(reported) - tracker.tracks


def test_match_cost_and_assign_gate() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    b = np.array([[100, 100, 110, 110], [1, 0, 11, 10], [500, 500, 510, 510]], float)
    cost = match_cost(a, b, iou_weight=0.5)
    assert cost.shape == (2, 3)
    assert cost[1, 0] == pytest.approx(0.0)
    # IoU 9/11, centre 1 px apart over a 10*sqrt(2) diagonal
    assert cost[0, 1] == pytest.approx(0.5 * (1 - 9 / 11) + 0.5 / (10 * np.sqrt(2)))
    assert cost[0, 2] == pytest.approx(1.0)
    pairs, rows, cols = assign(cost, max_cost=0.75)
    assert pairs.tolist() == [[0, 1], [1, 0]] and rows.size == 0 and cols.tolist() == [2]
    pairs, rows, cols = assign(np.zeros((0, 3)), max_cost=0.75)
    assert pairs.shape == (0, 2) and cols.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "bad",
    [
        {"max_cost": 0.0},
        {"iou_weight": 1.5},
        {"n_init": 0},
        {"max_misses": -1},
        {"alpha": 0.0},
        {"beta": 1.0},
    ],
)
def test_config_rejects_out_of_range_values(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrackerConfig(**bad)
