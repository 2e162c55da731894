"""eval --mode ros: a bag replayed through the real node over loopback, its output recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from affect_perception import cli
from affect_perception.evaluation import bag_io

pytestmark = pytest.mark.ros

FRAMES = 24


def test_replay_through_the_node(tmp_path: Path, random_model_dir: Path) -> None:
    bag = tmp_path / "bag"
    assert (
        cli.main(
            [
                "make-bag",
                "--synthetic",
                "--out",
                str(bag),
                "--frames",
                str(FRAMES),
                "--faces",
                "1",
                "--size",
                "320x240",
                "--compressed",
            ]
        )
        == 0
    )
    report_dir, recorded = tmp_path / "report", tmp_path / "pred"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.cli",
            "eval",
            "--bag",
            str(bag),
            "--mode",
            "ros",
            "--rate",
            "1",
            "--model",
            str(random_model_dir),
            "--record",
            str(recorded),
            "--report",
            str(report_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((report_dir / "report.json").read_text())
    assert (report["mode"], report["rate"], report["frames"]) == ("ros", 1.0, FRAMES)
    answered = FRAMES - report["dropped"]
    assert answered > FRAMES // 2 and report["frames_with_face"] <= answered
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p95"]
    assert report["model_id"] and report["labels"]
    # the node's messages, recorded as they came, carry the stamps of their source images
    source = [f.stamp_ns for f in bag_io.read_frames(bag, bag_io.COMPRESSED_TOPIC)]
    outputs = bag_io.read_affect(recorded, bag_io.PREDICTION_TOPIC)
    assert len(outputs) == answered and set(outputs) <= set(source)
    assert {r.model_id for r in outputs.values() if len(r.faces)} == {report["model_id"]}
