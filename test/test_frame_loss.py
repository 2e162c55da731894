"""StampGapLoss: frames lost upstream estimated from gaps in the source stamps, and the
best_available reliability choice."""

from __future__ import annotations

import pytest

from affect_perception.serving.frame_loss import MIN_INTERVALS, PAUSE_INTERVALS, StampGapLoss
from affect_perception.serving.reliability import wants_reliable

FPS = 15.0


def feed(indices: list[int], start: float = 100.0) -> StampGapLoss:
    loss = StampGapLoss()
    for index in indices:
        loss.add(start + index / FPS)
    return loss


@pytest.mark.parametrize(
    ("indices", "lost"),
    [
        (list(range(60)), 0),  # a steady stream
        (
            [i for i in range(60) if i % 3 != 2],
            17,
        ),  # every third lost: 19, 2 in the first intervals
        ([*range(20), *range(25, 60)], 5),  # one burst of 5
        ([*range(20), *range(20 + PAUSE_INTERVALS + 5, 60 + PAUSE_INTERVALS)], 0),  # a pause
        ([0, 3, 4, 5], 0),  # too few intervals to judge
    ],
)
def test_lost_frames_are_the_gaps_in_median_intervals(indices: list[int], lost: int) -> None:
    loss = feed(indices)
    assert (loss.seen, loss.lost) == (len(indices), lost)
    assert loss.fraction == pytest.approx(lost / (len(indices) + lost) if lost else 0.0)


def test_add_returns_the_frames_lost_just_before() -> None:
    loss = feed(list(range(MIN_INTERVALS + 1)))
    assert loss.add(100.0 + (MIN_INTERVALS + 4) / FPS) == 3
    assert loss.add(100.0 + (MIN_INTERVALS + 5) / FPS) == 0


@pytest.mark.parametrize("stamp", [0.0, 100.0, 50.0])  # zero, repeated, backwards
def test_stamps_that_do_not_move_forward_count_nothing(stamp: float) -> None:
    loss = feed(list(range(10)))
    assert loss.add(stamp) == 0
    assert loss.add(stamp + 1 / FPS) == 0  # counting restarts from there
    assert loss.lost == 0


@pytest.mark.parametrize(
    ("mode", "publishers", "reliable"),
    [
        ("best_available", [True, True], True),  # every publisher reliable
        ("best_available", [True, False], False),  # one best effort publisher
        ("best_available", [], False),  # none yet: best effort matches anything
        ("best_effort", [True], False),
        ("reliable", [False], True),
    ],
)
def test_best_available_is_reliable_only_when_every_publisher_is(
    mode: str, publishers: list[bool], reliable: bool
) -> None:
    assert wants_reliable(mode, publishers) is reliable
