"""Face alignment: upright crops from eye keypoints, crop geometry and input normalisation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from affect_perception.detections import Detections
from affect_perception.runtime.alignment import (
    align_faces,
    alignment_transforms,
    normalize,
    transform_points,
)
from affect_perception.runtime.detection.base import create_detector

ASTRONAUT = skimage.data.astronaut()
# Roll applied to the photo, in degrees (counter-clockwise), about the face.
ROLL = 20.0


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two RGB images' grey levels."""
    a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64) for x in (a, b))
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _faces(xyxy: list[list[float]], keypoints: np.ndarray | None = None) -> Detections:
    return Detections(xyxy=xyxy, score=np.ones(len(xyxy)), keypoints=keypoints)


@pytest.fixture(scope="module")
def rolled() -> dict[str, np.ndarray | Detections]:
    """The astronaut upright and rolled by ROLL degrees, each with its BlazeFace detection."""
    detector = create_detector(threads=1)
    upright = detector.detect(ASTRONAUT)
    centre = tuple(float(c) for c in (upright.xyxy[0, :2] + upright.xyxy[0, 2:]) / 2)
    rotation = cv2.getRotationMatrix2D(centre, ROLL, 1.0)
    image = cv2.warpAffine(
        ASTRONAUT, rotation, ASTRONAUT.shape[1::-1], borderMode=cv2.BORDER_REPLICATE
    )
    return {
        "upright": upright,
        "rotation": rotation,
        "image": image,
        "faces": detector.detect(image),
    }


def test_rolled_face_comes_out_upright(rolled: dict) -> None:
    upright, faces = rolled["upright"], rolled["faces"]
    assert len(faces) == 1
    # the upright photo's eyes, carried into the rolled photo: ground truth there
    true_eyes = cv2.transform(upright.keypoints[:, :2], rolled["rotation"])
    eyes = transform_points(alignment_transforms(faces), true_eyes)[0]
    reference = transform_points(alignment_transforms(upright), upright.keypoints[:, :2])[0]
    dx, dy = eyes[1] - eyes[0]
    assert abs(np.degrees(np.arctan2(dy, dx))) < 6  # rolled 20°, now level within a few
    np.testing.assert_allclose(eyes, reference, atol=8)  # same place in the crop, 224 px
    crop, upright_crop = align_faces(rolled["image"], faces), align_faces(ASTRONAUT, upright)
    unrolled = align_faces(rolled["image"], _faces(faces.xyxy))  # no keypoints: no rotation
    assert _ncc(crop[0], upright_crop[0]) > 0.75 > 0.5 > _ncc(unrolled[0], upright_crop[0])


@pytest.mark.parametrize("size", [224, 112])
def test_shapes_and_types(rolled: dict, size: int) -> None:
    faces = Detections.merge([rolled["upright"], rolled["upright"]])
    crops = align_faces(ASTRONAUT, faces, size=size)
    assert crops.shape == (2, size, size, 3) and crops.dtype == np.uint8
    assert alignment_transforms(faces, size).shape == (2, 2, 3)
    assert align_faces(ASTRONAUT, Detections.empty()).shape == (0, 224, 224, 3)
    batch = normalize(crops, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    assert batch.shape == (2, 3, size, size) and batch.dtype == np.float32
    assert batch.flags.c_contiguous


def test_axis_aligned_crop_without_keypoints_is_the_box() -> None:
    crop = align_faces(ASTRONAUT, _faces([[100, 120, 200, 220]]), size=100, margin=0.0)
    np.testing.assert_array_equal(crop[0], ASTRONAUT[120:220, 100:200])


def test_margin_widens_a_square_around_the_longer_side() -> None:
    transforms = alignment_transforms(_faces([[100, 100, 200, 140]]), size=100, margin=0.5)
    # longer side 100 plus 50 on each side: frame x 50..250, y 20..220 (centred on the box)
    corners = transform_points(transforms, np.array([[[50, 20], [250, 220], [150, 120]]]))
    np.testing.assert_allclose(corners[0], [[0, 0], [100, 100], [50, 50]], atol=1e-4)


def test_eyes_set_the_roll() -> None:
    keypoints = np.full((1, 6, 2), np.nan, np.float32)
    keypoints[0, :2] = [[120, 140], [180, 80]]  # right eye low-left, left eye up-right: 45°
    faces = _faces([[100, 60, 200, 160]], keypoints)
    eyes = transform_points(alignment_transforms(faces), keypoints[:, :2])[0]
    assert eyes[0, 0] < eyes[1, 0] and abs(eyes[0, 1] - eyes[1, 1]) < 1e-3
    assert np.hypot(*(eyes[1] - eyes[0])) == pytest.approx(np.hypot(60, 60) * 224 / 150)


def test_transform_points_matches_opencv(rolled: dict) -> None:
    faces = rolled["faces"]
    transform = alignment_transforms(faces)
    expected = cv2.transform(faces.keypoints, transform[0])
    np.testing.assert_allclose(transform_points(transform, faces.keypoints), expected, atol=1e-3)


@pytest.mark.parametrize(("border", "corner_is_black"), [("constant", True), ("replicate", False)])
def test_border_outside_the_frame(border: str, corner_is_black: bool) -> None:
    crop = align_faces(ASTRONAUT, _faces([[-50, -50, 50, 50]]), size=64, margin=0, border=border)
    assert (crop[0, 0, 0].max() == 0) == corner_is_black


def test_normalize_matches_the_formula() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    expected = (crops / 255.0 - mean) / std
    np.testing.assert_allclose(
        normalize(crops, mean, std), expected.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: align_faces(ASTRONAUT, Detections.empty(), border="wrap"), "border"),
        (lambda: alignment_transforms(Detections.empty(), size=0), "size"),
        (lambda: normalize(np.zeros((1, 4, 4, 3), np.uint8), 0.5, 0.0), "std"),
        (lambda: normalize(np.zeros((4, 4, 3), np.uint8), 0.5, 0.5), "crops"),
    ],
)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
