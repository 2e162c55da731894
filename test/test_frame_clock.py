"""Frames whose stamps do not advance (issue 22, defect 3): the frame clock falls back to the
arrival time, and through the live node, with smoothing on, zero stamps no longer freeze the
output; the node says so once in its log and in /diagnostics."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from affect_perception.bench.soak import NodeUnderLoad, render_messages
from affect_perception.runtime.frame_clock import ARRIVAL_TIME, SOURCE_STAMPS, FrameClock

FRAMES, FPS = 60, 10.0


@pytest.mark.parametrize("stamps", [[0.0] * 4, [5.0] * 4, [3.0, 2.0, 1.0, 0.5]])
def test_stamps_that_do_not_advance_give_arrival_times(stamps: list[float]) -> None:
    clock = FrameClock()
    times = [clock.time(stamp, 100.0 + k) for k, stamp in enumerate(stamps)]
    assert times[1:] == [101.0, 102.0, 103.0] and clock.source == ARRIVAL_TIME


def test_advancing_stamps_are_kept() -> None:
    clock = FrameClock()
    assert [clock.time(s, 100.0) for s in (1.0, 1.1, 1.2)] == [1.0, 1.1, 1.2]
    assert not clock.fallback and clock.source == SOURCE_STAMPS


@pytest.mark.ros
def test_zero_stamps_do_not_freeze_the_smoothed_output(
    rclpy_init: None, random_model_dir: Path, tmp_path: Path
) -> None:
    load = NodeUnderLoad(
        random_model_dir,
        tmp_path / "node.log",
        {"intra_op_threads": 1, "smoothing.enabled": "true"},
    )
    try:
        load.wait_ready()
        for msg in render_messages(1, (320, 240))[:FRAMES]:
            load.spin_until(lambda: False, 1.0 / FPS)
            msg.header.stamp.sec, msg.header.stamp.nanosec = 0, 0
            load.publisher.publish(msg)
        load.spin_until(lambda: False, 1.0)
        clock = load.fresh_diagnostic("frame clock")
    finally:
        assert load.stop(signal.SIGTERM) == 0
    valence = [face.valence for _, msg in load.outputs for face in msg.faces]
    assert len(valence) >= FRAMES // 3
    assert len(set(valence)) >= len(valence) // 2, valence  # frozen: one value throughout
    assert clock == ARRIVAL_TIME
    assert load.log_path.read_text().count("stamps do not advance") == 1
