"""The still-face crop study: crops carried by the camera's warp, smoothed crops, a real run."""

from __future__ import annotations

import numpy as np
import pytest

from affect_perception.detections import Detections
from affect_perception.realfaces import checkset
from affect_perception.realfaces.clips import ClipSpec
from affect_perception.realfaces.still_crops import (
    MODES,
    ideal_detections,
    main,
    smoothed,
    study,
)
from affect_perception.resources import bundled_model_dir


def face(x: float, y: float) -> Detections:
    """One 20×20 face at (x, y) with its six keypoints at the box centre."""
    return Detections(
        xyxy=np.array([[x, y, x + 20, y + 20]], np.float32),
        score=np.array([0.9], np.float32),
        keypoints=np.full((1, 6, 2), (x + 10, y + 10), np.float32),
    )


def test_ideal_crops_follow_the_warp_from_the_tripod_frame() -> None:
    tripod = np.array([[2.0, 0, 10], [0, 2.0, 5]])
    moved = tripod.copy()
    moved[:, 2] += (3, -4)  # the camera moved 3 px right and 4 up
    same, shifted = ideal_detections(face(100, 50), [tripod, moved], tripod)
    np.testing.assert_allclose(same.xyxy, face(100, 50).xyxy)
    np.testing.assert_allclose(shifted.xyxy, face(103, 46).xyxy)
    np.testing.assert_allclose(shifted.keypoints, face(103, 46).keypoints)


def test_smoothing_moves_a_share_of_the_way_and_passes_misses() -> None:
    got = smoothed([face(0, 0), Detections.empty(), face(10, 0)], weight=0.3)
    np.testing.assert_allclose(got[0].xyxy, face(0, 0).xyxy)
    assert len(got[1]) == 0
    np.testing.assert_allclose(got[2].xyxy, face(3, 0).xyxy, atol=1e-5)


def test_every_mode_on_a_short_astronaut_clip() -> None:
    results = study(bundled_model_dir(), checkset.load_photo("astronaut"), ClipSpec(frames=16))
    assert set(results) == set(MODES)
    for share, mean in results.values():
        assert 0 <= share <= 1 and 0 <= mean <= 1
    # the demo model does not call the astronaut on a tripod hesitant (docs/REALFACES.md)
    assert results["tripod"][0] == 0.0


def test_bad_photo_is_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["--photos", "nobody"]) == 2
    assert "unknown check-set photo 'nobody'" in capsys.readouterr().err
