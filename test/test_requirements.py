"""requirements/runtime.txt resolves to binary wheels for the Pythons of the supported ROS 2
distributions: 3.10 (Humble, Ubuntu 22.04) and 3.12 (Jazzy, Ubuntu 24.04); 3.11 (the Kilted
wheels) is what the venv runs. pip resolves without installing (``--dry-run``) from the
configured package index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements" / "runtime.txt"
# What the robot runtime cannot do without.
ESSENTIAL = {"numpy", "opencv-python-headless", "onnxruntime", "scipy", "pyyaml"}
RESOLVE_S = 300


@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_runtime_requirements_have_wheels_for(python: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--disable-pip-version-check",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--target",
            str(tmp_path / "target"),
            "--report",
            str(report),
            "-r",
            str(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=RESOLVE_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = {
        item["metadata"]["name"].lower(): item
        for item in json.loads(report.read_text())["install"]
    }
    assert ESSENTIAL <= set(resolved)
    tag = f"cp{python.replace('.', '')}"
    for name in ESSENTIAL:  # all compiled: a wheel for exactly this Python
        url = resolved[name]["download_info"]["url"]
        assert url.endswith(".whl") and (f"-{tag}-" in url or "-abi3-" in url), url
    assert not (tmp_path / "target").exists()  # nothing was installed
