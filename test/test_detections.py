"""The Detections struct of arrays: validation, selection, merge, IoU."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from affect_perception.detections import Detections, box_iou

BOXES = np.array([[0, 0, 10, 10], [5, 5, 25, 25], [100, 100, 110, 130]], np.float32)


def three() -> Detections:
    return Detections(
        xyxy=BOXES,
        score=[0.9, 0.8, 0.7],
        track_id=["a", "b", "c"],
        data={"valence": np.array([0.1, 0.2, 0.3])},
    )


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({"xyxy": BOXES, "score": [1, 1, 1]}, does_not_raise()),  # minimal, defaults filled
        ({"xyxy": np.zeros((0, 4)), "score": []}, does_not_raise()),  # no faces
        ({"xyxy": [], "score": []}, does_not_raise()),  # empty list reshaped to (0, 4)
        (
            {"xyxy": BOXES[:, :3], "score": [1, 1, 1]},
            pytest.raises(ValueError, match=r"xyxy must be \(_, 4\)"),
        ),  # wrong box width
        (
            {"xyxy": BOXES, "score": [1, 1]},
            pytest.raises(ValueError, match=r"score must be \(3,\)"),
        ),  # one score short
        (
            {"xyxy": BOXES, "score": [1, 1, 1], "keypoints": np.zeros((3, 5, 2))},
            pytest.raises(ValueError, match="keypoints must be"),
        ),  # 5 keypoints, not 6
        (
            {"xyxy": BOXES, "score": [1, 1, 1], "track_id": ["a"]},
            pytest.raises(ValueError, match="track_id must be"),
        ),  # ids for one face only
        (
            {"xyxy": BOXES, "score": [1, 1, 1], "data": {"v": np.zeros(2)}},
            pytest.raises(ValueError, match=r"data\['v'\] must have first dimension 3"),
        ),
    ],
)
def test_validation(kwargs: dict, expectation) -> None:
    with expectation:
        faces = Detections(**kwargs)
        n = len(faces)
        assert faces.keypoints.shape == (n, 6, 2) and faces.track_id.shape == (n,)
        assert faces.xyxy.dtype == np.float32 and faces.score.dtype == np.float32


def test_selection_by_mask_index_and_int() -> None:
    faces = three()
    masked = faces[faces.score > 0.75]
    assert list(masked.track_id) == ["a", "b"]
    np.testing.assert_allclose(masked.data["valence"], [0.1, 0.2])
    assert list(faces[[2, 0]].track_id) == ["c", "a"]
    one = faces[1]
    assert len(one) == 1 and one.track_id[0] == "b" and one.xyxy.shape == (1, 4)
    assert [d.track_id[0] for d in faces] == ["a", "b", "c"]


def test_area_wh_empty_and_merge() -> None:
    faces = three()
    np.testing.assert_allclose(faces.area, [100, 400, 300])
    np.testing.assert_allclose(faces.wh[2], [10, 30])
    assert len(Detections.empty()) == 0
    merged = Detections.merge([faces[:1], Detections.empty(), faces[2:]])
    assert list(merged.track_id) == ["a", "c"]
    np.testing.assert_allclose(merged.data["valence"], [0.1, 0.3])
    with pytest.raises(ValueError, match="same data keys"):
        Detections.merge([faces[:1], Detections(xyxy=BOXES[:1], score=[1])])


LEFT, RIGHT = [0, 0, 100, 100], [200, 0, 300, 100]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (LEFT, LEFT, 1.0),  # the same box
        (LEFT, RIGHT, 0.0),  # apart
        (LEFT, [50, 0, 150, 100], 1 / 3),  # half of each overlaps
        (LEFT, [0, 0, 50, 50], 0.25),  # one inside the other
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes: no division by zero
    ],
)
def test_box_iou_pairs(a: list[float], b: list[float], expected: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_box_iou() -> None:
    iou = box_iou(BOXES, BOXES)
    np.testing.assert_allclose(np.diag(iou), 1.0)
    # boxes 0 and 1 overlap in a 5×5 square: 25 / (100 + 400 - 25)
    assert iou[0, 1] == pytest.approx(25 / 475) and iou[1, 0] == pytest.approx(25 / 475)
    assert iou[0, 2] == 0.0
    assert box_iou(np.zeros((0, 4)), BOXES).shape == (0, 3)
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0  # empty boxes: no overlap
