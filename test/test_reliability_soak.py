"""The live node for two minutes at 30 fps (the CI version of `affect-perception bench
--soak`): it keeps answering, its memory does not grow and its latency does not drift."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from affect_perception.bench.soak import NodeUnderLoad, render_messages, soak_summary

pytestmark = [pytest.mark.ros, pytest.mark.slow]

MINUTES = 2.0
FPS = 30.0
SETTLE_S = 30.0  # start-up left out of the drift figures
# Limits: memory growth after settling (RELIABILITY.md: under 5 % over 30 minutes), median
# latency of the last half minute against the first, and the least output rate on a loaded
# 2-core machine.
MAX_RSS_GROWTH = 0.05
MAX_LATENCY_DRIFT = 1.5
MIN_OUTPUT_FPS = 3.0


def test_two_minutes_at_30_fps(rclpy_init: None, random_model_dir: Path, tmp_path: Path) -> None:
    load = NodeUnderLoad(random_model_dir, tmp_path / "node.log", {"intra_op_threads": 1})
    try:
        load.wait_ready()
        record = load.play(render_messages(1, (640, 480)), FPS, MINUTES * 60)
        processing_errors = load.fresh_diagnostic("processing errors")
    finally:
        code = load.stop(signal.SIGTERM)
    text = load.log_path.read_text()
    assert code == 0 and "Traceback" not in text, text[-3000:]
    summary = soak_summary(record, SETTLE_S)
    print(summary)  # the figures, for RELIABILITY.md (pytest -s)
    assert processing_errors == "0"
    assert summary["output_fps"] >= MIN_OUTPUT_FPS, summary
    assert summary["faces_per_answer"] > 0.9, summary
    assert summary["rss_growth"] < MAX_RSS_GROWTH, summary
    assert summary["latency_drift"] < MAX_LATENCY_DRIFT, summary
