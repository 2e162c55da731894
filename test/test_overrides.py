"""Command-line overrides rcl ignored (issue 22, defect 8): with a parameter file,
``-p max_faces:=abc`` left max_faces at 4 without a word; now start-up stops naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from affect_perception.serving.overrides import given_overrides, ignored_overrides

REPO = Path(__file__).resolve().parents[1]


def test_given_overrides_reads_the_ros_argument_sections() -> None:
    argv = [
        "node",
        "-p",
        "x:=1",
        "--ros-args",
        "-p",
        "max_faces:=abc",
        "--param",
        "qos_depth:=3",
        "-r",
        "image:=/cam",
        "-p",
        "other_node:max_faces:=2",
        "--",
        "-p",
        "late:=1",
    ]
    assert given_overrides(argv) == {"max_faces": "abc", "qos_depth": "3"}


@pytest.mark.parametrize(
    ("text", "effective", "ignored"),
    [
        ("abc", 4, True),
        ("4", 4, False),
        ("1e3", 1000.0, False),
        ("0.5", 0.5, False),
        ("true", True, False),
        ("true", False, True),
        ("[a, b]", ["a", "b"], False),
        ("[a]", ["a", "b"], True),
        ("", "", False),
        ("/some/path", "/some/path", False),
    ],
)
def test_ignored_overrides_compare_values(text: str, effective: object, ignored: bool) -> None:
    found = ignored_overrides({"p": text}, {"p": effective})
    assert ("p" in found) == ignored
    assert set(ignored_overrides({"unknown": "1"}, {"p": effective})) == set()


@pytest.mark.ros
def test_a_mistyped_override_beside_a_parameter_file_stops_start_up(
    random_model_dir: Path,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.ros.node",
            "--ros-args",
            "--params-file",
            str(REPO / "config" / "affect.yaml"),
            "-p",
            f"model_dir:={random_model_dir}",
            "-p",
            "max_faces:=abc",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = done.stdout + done.stderr
    fatal = [line for line in text.splitlines() if "FATAL" in line]
    assert done.returncode == 2, text
    assert len(fatal) == 1 and "parameter 'max_faces'" in fatal[0] and "'abc'" in fatal[0]
    assert "Traceback" not in text
