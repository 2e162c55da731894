"""Training segments and their sliding windows.

A segment is T consecutive frames of one video; the encoder runs once per frame and the
temporal model sees all T - W + 1 windows of W frames in it, each labelled with its newest
frame, so one backbone pass gives many samples. Frames before the first are the first frame
repeated, as the causal windows of validation and of the synthetic labels do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def check_segment(segment_length: int, window: int, time_patch: int) -> None:
    """Reject a segment length the temporal model cannot cut into windows and time patches."""
    if segment_length % time_patch:
        fix = -(-segment_length // time_patch) * time_patch
        raise ValueError(
            f"segment_length {segment_length} is not a multiple of the time patch {time_patch}; "
            f"choose e.g. {fix}"
        )
    if segment_length < window:
        raise ValueError(
            f"segment_length {segment_length} is shorter than the window {window}; "
            f"choose at least {window}"
        )


def causal_windows(newest: np.ndarray, window: int) -> np.ndarray:
    """(n, W) frame indices of the windows ending at frames ``newest``, oldest first, with
    frames before 0 clamped to frame 0."""
    return np.maximum(np.asarray(newest)[:, None] - window + 1 + np.arange(window), 0)


def sliding_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, T, ...) per-frame values -> (B * (T - W + 1), W, ...) windows, oldest frame first."""
    windows = x.unfold(1, window, 1)  # (B, T - W + 1, ..., W)
    return windows.movedim(-1, 2).flatten(0, 1)


class SegmentSampler:
    """Random segments over a set of videos, each frame about equally likely.

    Args:
        lengths: frames per video.
        segment_length: frames T per segment; a multiple of ``time_patch`` and at least W.
        window: frames W per window.
        time_patch: frames per temporal token.
        seed: seed of the sampler's own generator (an int or a sequence of ints, such as
            (run seed, rank, epoch)).
    """

    def __init__(
        self,
        lengths: list[int],
        segment_length: int,
        window: int,
        time_patch: int,
        seed: int | Sequence[int],
    ) -> None:
        check_segment(segment_length, window, time_patch)
        if not lengths:
            raise ValueError("no videos to sample from; check the training data paths")
        self.lengths = np.asarray(lengths)
        self.segment_length, self.window = segment_length, window
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """(B,) video indices and (B, T) frame indices; windows may start before frame 0."""
        share = self.lengths / self.lengths.sum()
        videos = self.rng.choice(len(self.lengths), size=batch, p=share)
        first = -(self.window - 1)
        last = np.maximum(self.lengths[videos] - self.segment_length, first)
        starts = self.rng.integers(first, last + 1)
        frames = starts[:, None] + np.arange(self.segment_length)
        return videos, np.clip(frames, 0, self.lengths[videos, None] - 1)
