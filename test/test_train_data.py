"""Training data: the label layouts with missing markers, masks, frames and segment sampling."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest
import torch
from train_fixtures import handmade_root, synth_root

from affect_perception.train.datasets import DataSource, load_frames, read_source
from affect_perception.train.sampling import (
    SegmentSampler,
    causal_windows,
    check_segment,
    sliding_windows,
)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = handmade_root(tmp_path_factory.mktemp("handmade"))
    return {v.name: v for v in read_source(DataSource.from_root(root, "Train_Set"))}


def test_layout_finds_every_task(tmp_path):
    source = DataSource.from_root(handmade_root(tmp_path), "Train_Set")
    assert source.tasks() == ("va", "au", "emi", "ah")
    assert source.emi.name == "train_split.csv"


def test_va_missing_marker_and_missing_image_are_masked(videos):
    a = videos["a"]
    # frame 2 is -5, frame 3 has no image
    assert a.present.tolist() == [True, True, False, True]
    assert a.masks["va"].tolist() == [True, False, False, True]
    np.testing.assert_allclose(a.labels["va"], [[0.1, 0.2], [0, 0], [0, 0], [0.5, 0.6]])


def test_au_missing_marker_is_masked_per_entry(videos):
    mask = videos["a"].masks["au"]
    assert mask.shape == (4, 12)
    assert not mask[0, 0] and mask[0, 1:].all()  # AU1 of frame 1 is -1
    assert mask[1].all() and not mask[2].any() and not mask[3].any()
    assert videos["a"].labels["au"][mask].tolist() == [1.0] * 11 + [0.0] * 12


def test_emi_csv_row_labels_every_frame_with_an_image(videos):
    a = videos["a"]
    assert a.masks["emi"].tolist() == [True, True, False, True]
    np.testing.assert_allclose(a.labels["emi"][0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


def test_ah_frame_labels_with_missing_marker(videos):
    a = videos["a"]
    assert a.masks["ah"].tolist() == [False, True, False, True]
    assert a.labels["ah"][:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_task_missing_for_a_video_is_masked_not_dropped(videos):
    b = videos["b"]
    assert b.masks["va"].all()
    for task in ("au", "emi", "ah"):
        assert not b.masks[task].any()


def test_missing_image_shows_the_previous_frame(videos):
    assert videos["a"].image_frames().tolist() == [0, 1, 1, 3]
    crops = load_frames(videos["a"], np.array([1, 2]), 32, (0.5,) * 3, (0.5,) * 3)
    assert crops.shape == (2, 3, 32, 32)
    torch.testing.assert_close(crops[0], crops[1])


def test_synth_layout_reads(tmp_path):
    root = synth_root(tmp_path, videos=2, frames=10)
    train = read_source(DataSource.from_root(root, "Train_Set"))
    val = read_source(DataSource.from_root(root, "Validation_Set"))
    assert len(train) == len(val) == 1
    assert train[0].num_frames == 10 and train[0].present.all()


def test_synth_emi_frames_are_read_per_frame(tmp_path):
    root = synth_root(tmp_path, videos=2, frames=10)
    source = DataSource.from_root(root, "Train_Set")
    assert source.emi == root / "EMI_Frames" / "Train_Set"
    video = read_source(source)[0]
    written = np.loadtxt(source.emi / f"{video.name}.txt", delimiter=",", skiprows=1)
    assert video.emi_per_frame and video.masks["emi"].all()
    np.testing.assert_allclose(video.labels["emi"], written, atol=1e-6)
    assert np.ptp(video.labels["emi"], axis=0).max() > 0  # frames differ, not one row repeated


def test_root_without_frames_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="cropped_aligned"):
        DataSource.from_root(tmp_path, "Train_Set")


@pytest.mark.parametrize(
    ("length", "expectation"),
    [
        (16, does_not_raise()),  # a multiple of the time patch
        (8, does_not_raise()),  # exactly the window
        (
            14,
            pytest.raises(ValueError, match="not a multiple of the time patch 4; choose e.g. 16"),
        ),
        (4, pytest.raises(ValueError, match="shorter than the window 8")),
    ],
)
def test_segment_length_must_fit_time_patch_and_window(length, expectation):
    with expectation:
        check_segment(length, window=8, time_patch=4)


def test_sampler_segments_stay_inside_their_video():
    sampler = SegmentSampler([30, 9], segment_length=12, window=8, time_patch=4, seed=0)
    videos, frames = sampler.sample(64)
    assert frames.shape == (64, 12)
    lengths = np.array([30, 9])[videos]
    assert (frames >= 0).all() and (frames < lengths[:, None]).all()
    assert (np.diff(frames, axis=1) >= 0).all()
    # a window may start before frame 0: frame 0 repeated
    assert (frames[:, 0] == frames[:, 1]).any()


def test_windows_are_oldest_first_and_clamped():
    np.testing.assert_array_equal(
        causal_windows(np.array([0, 5]), 4), [[0, 0, 0, 0], [2, 3, 4, 5]]
    )
    x = torch.arange(2 * 6).view(2, 6, 1).float()
    windows = sliding_windows(x, 4)
    assert windows.shape == (6, 4, 1)
    assert windows[0, :, 0].tolist() == [0, 1, 2, 3]
    assert windows[3, :, 0].tolist() == [6, 7, 8, 9]
