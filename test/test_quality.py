"""Quality figures and the `reliable` decision: hand-made keypoints, synthetic faces drawn
small, turned or blurred and found by BlazeFace, and a face that drops out of a stream."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from affect_perception.runtime.alignment import align_faces
from affect_perception.runtime.quality import (
    QualityConfig,
    face_quality,
    frontalness,
    head_pose,
    is_reliable,
    sharpness,
)
from affect_perception.synth.face import Identity, draw_body, draw_face
from affect_perception.synth.trajectories import FaceState

SIZE = (320, 240)
WINDOW = 8


def keypoints(nose_x: float = 0.0, roll_deg: float = 0.0, ears: tuple = (-1.0, 1.0)) -> np.ndarray:
    """(1, 6, 2) BlazeFace keypoints of a face with eyes 1 apart, rolled about the eye
    midpoint: the nose ``nose_x`` eye distances sideways, ears at ``ears`` along the eye line."""
    local = np.array(
        [[-0.5, 0.0], [0.5, 0.0], [nose_x, 0.6], [nose_x, 1.0], [ears[0], 0.3], [ears[1], 0.3]]
    )
    angle = np.radians(roll_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (local @ rotation.T * 40 + [100, 80])[None].astype(np.float32)


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (keypoints(), 1.0),  # frontal
        (keypoints(roll_deg=35), 1.0),  # roll does not count
        (keypoints(nose_x=0.3, ears=(-0.8, 1.2)), 0.72),  # turned: both cues drop
        (keypoints(nose_x=1.2, ears=(0.05, 1.2)), 0.0),  # profile
    ],
)
def test_frontalness_from_the_nose_and_the_ears(points: np.ndarray, expected: float) -> None:
    assert frontalness(points)[0] == pytest.approx(expected, abs=0.01)


def test_head_pose_is_roll_free_and_missing_keypoints_give_nan() -> None:
    np.testing.assert_allclose(head_pose(keypoints(0.2, roll_deg=60)), [[0.2, 0.6]], atol=1e-5)
    no_ears = keypoints(nose_x=0.6)
    no_ears[0, 4:] = np.nan
    assert frontalness(no_ears)[0] == pytest.approx(0.5)  # the nose cue alone
    assert np.isnan(frontalness(np.full((1, 6, 2), np.nan))[0])


def test_sharpness_drops_with_blur_and_ignores_the_crop_border() -> None:
    crop = np.random.default_rng(0).integers(0, 255, (1, 224, 224, 3), np.uint8)
    blurred = cv2.GaussianBlur(crop[0], (0, 0), 3)[None]
    assert sharpness(crop)[0] > 100 * sharpness(blurred)[0]
    flat = np.full((1, 224, 224, 3), 128, np.uint8)
    flat[:, :30] = 0  # black padding at the crop's edge is not the face
    assert sharpness(flat)[0] == 0.0


@pytest.fixture(scope="module")
def detector():
    from affect_perception.runtime.detection.base import DetectorConfig, build_detector

    return build_detector(DetectorConfig(threads=1))


def drawn_face(yaw: float = 0.0, height: float = 120.0, blur: float = 0.0) -> np.ndarray:
    """One synthetic person on a plain background, at the frame's centre."""
    image = np.full((SIZE[1], SIZE[0], 3), (90, 120, 90), np.uint8)
    state = FaceState(center=(SIZE[0] / 2, SIZE[1] / 2), height=height, yaw=yaw)
    identity = Identity.sample(np.random.default_rng(0))
    draw_body(image, identity, state)
    draw_face(image, identity, state)
    return cv2.GaussianBlur(image, (0, 0), blur) if blur else image


def checks(quality: dict, config: QualityConfig) -> dict[str, bool]:
    """Each threshold on its own, for the one face in ``quality``."""
    return {
        "size": quality["face_size"][0] >= config.min_face_size,
        "frontal": quality["frontalness"][0] >= config.min_frontalness,
        "sharp": quality["sharpness"][0] >= config.min_sharpness,
    }


@pytest.mark.parametrize(
    ("case", "drawing", "failing"),
    [
        ("frontal", {}, set()),
        ("turned", {"yaw": 50.0}, {"frontal"}),
        ("small", {"height": 45.0}, {"size"}),
        ("blurred", {"blur": 2.5}, {"sharp"}),
    ],
)
def test_small_turned_and_blurred_faces_are_not_reliable(
    detector, case: str, drawing: dict, failing: set
) -> None:
    image = drawn_face(**drawing)
    faces = detector.detect(image)
    assert len(faces) == 1, case
    config = QualityConfig()
    quality = face_quality(faces, align_faces(image, faces), np.array([WINDOW]))
    assert {name for name, ok in checks(quality, config).items() if not ok} == failing
    reliable = is_reliable(quality, np.array([True]), WINDOW, config)
    assert reliable.tolist() == [not failing]
    assert not is_reliable(quality, np.array([False]), WINDOW, config)[0]  # cold: never


def test_real_frames_are_capped_at_the_window() -> None:
    quality = {
        "face_size": np.array([100.0]),
        "frontalness": np.array([np.nan]),
        "sharpness": np.array([50.0]),
        "window_real": np.array([8]),
    }
    config = QualityConfig(min_real_frames=30)
    assert is_reliable(quality, np.array([True]), 8, config).tolist() == [True]
    quality["window_real"] = np.array([7])
    assert is_reliable(quality, np.array([True]), 8, config).tolist() == [False]


def test_a_face_that_drops_out_is_unreliable_until_its_window_is_seen_again(
    random_model_dir: Path,
) -> None:
    """14 frames of a face, 3 without it (the window bridges them by repeating features), then
    the face again: window_real_frames shows the 3 carried-over frames until they leave the
    window, and reliable waits for quality.min_real_frames (6 of 8) real frames."""
    from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig

    face = drawn_face()
    empty = np.full_like(face, (90, 120, 90))
    pipeline = AffectPipeline(PipelineConfig(model_dir=random_model_dir, intra_op_threads=1))
    frames = [face] * 14 + [empty] * 3 + [face] * 7
    seen = []
    for k, rgb in enumerate(frames):
        result = pipeline.process(rgb, k / 30)
        seen.append(
            (
                len(result.faces),
                result.face_values("window_real").tolist(),
                result.face_values("reliable").tolist(),
            )
        )
    before, gap, after = seen[13], seen[14:17], seen[17:]
    assert before == (1, [WINDOW], [True])
    assert all(count == 0 for count, _, _ in gap)
    assert [real for _, (real,), _ in after] == [5, 5, 5, 5, 5, 6, 7]
    assert [ok for _, _, (ok,) in after] == [False] * 5 + [True] * 2
