"""Clips filmed from real face photos: deterministic, and each kind changes what it says."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from affect_perception.realfaces.clips import CLIP_KINDS, ClipSpec, make_clip

PHOTO = data.astronaut()


def test_same_spec_same_frames_and_seed_changes_jitter() -> None:
    a = make_clip(PHOTO, ClipSpec(frames=5, seed=3))
    b = make_clip(PHOTO, ClipSpec(frames=5, seed=3))
    c = make_clip(PHOTO, ClipSpec(frames=5, seed=4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("kind", CLIP_KINDS)
def test_frames_have_the_asked_size_and_type(kind: str) -> None:
    clip = make_clip(PHOTO, ClipSpec(kind=kind, frames=3, size=(320, 240), face_height=200))
    assert len(clip) == 3
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in clip)


def test_still_clip_jitters_by_a_few_pixels_only() -> None:
    clip = make_clip(PHOTO, ClipSpec(frames=10, seed=1))
    # consecutive frames differ (the camera moves) but stay close (it only jitters)
    diffs = [
        np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(clip, clip[1:], strict=False)
    ]
    assert all(0 < d < 25 for d in diffs)


def test_lighting_ramps_and_zoom_grows_the_face() -> None:
    light = make_clip(PHOTO, ClipSpec(kind="lighting", frames=5))
    assert light[0].mean() < light[-1].mean()
    zoom = make_clip(PHOTO, ClipSpec(kind="zoom", frames=5, face_height=200))
    covered = [(f != 40).any(axis=2).sum() for f in zoom]  # pixels the photo covers
    assert covered[0] < covered[-1]


def test_mirror_is_the_flipped_still() -> None:
    framing = dict(frames=1, seed=0, size=(512, 512), face_height=512)
    still = make_clip(PHOTO, ClipSpec(**framing))[0]
    mirror = make_clip(PHOTO, ClipSpec(kind="mirror", **framing))[0]
    # the same jitter applied to the flipped photo: close to the flipped still frame
    assert np.abs(mirror.astype(int) - still[:, ::-1].astype(int)).mean() < 12


@pytest.mark.parametrize("bad", [dict(kind="spin"), dict(frames=0)])
def test_bad_specs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ClipSpec(**bad)


def test_tripod_offset_and_gain_are_exact() -> None:
    photo = PHOTO[:100, :120]
    spec = {"frames": 2, "size": (120, 100), "face_height": 100, "jitter": 0.0}
    still = make_clip(photo, ClipSpec(**spec))
    assert all(np.array_equal(f, photo) for f in still)  # no jitter: the photo itself
    shifted = make_clip(photo, ClipSpec(offset=(3.0, 2.0), **spec))[0]
    assert np.array_equal(shifted[2:, 3:], photo[:-2, :-3])
    darker = make_clip(photo, ClipSpec(gain=0.9, **spec))[0]
    assert np.array_equal(darker, (photo * 0.9).astype(np.uint8))
