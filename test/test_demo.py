"""`affect-perception demo` end to end on a short clip: the real node, a summary per second,
the overlay files, and the untrained model said to be untrained."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from affect_perception.demo import UNTRAINED_DIR, UNTRAINED_NOTE, Outputs, write_results

pytestmark = pytest.mark.ros


def test_demo_runs_the_node_and_writes_what_it_saw(random_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    # the untrained model the demo would export (saves the torch export here)
    shutil.copytree(random_model_dir, out / UNTRAINED_DIR)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.cli",
            "demo",
            "--out",
            str(out),
            "--seconds",
            "3",
            "--faces",
            "1",
            "--size",
            "320x240",
            "--mp4",
        ],
        capture_output=True,
        text=True,
        timeout=150,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert text.count("t=") >= 2  # a summary line per second
    assert "node in" in text and "faces:" in text
    assert (out / "overlay_strip.png").stat().st_size > 0
    assert (out / "overlay.mp4").stat().st_size > 0
    assert "node exit status 0" in text
    if f"model: {out / UNTRAINED_DIR}" in text:
        assert text.count(UNTRAINED_NOTE) >= 2  # said before and after the run
    else:  # the bundled model points at what it has seen
        assert "MODEL_CARD.md" in text


@pytest.mark.parametrize(("trained", "caption"), [(True, False), (False, True)])
def test_contact_sheet_of_an_untrained_model_carries_the_warning(
    tmp_path: Path, trained: bool, caption: bool
) -> None:
    import cv2

    outputs = Outputs(overlays={i: np.full((48, 64, 3), 10 * i, np.uint8) for i in range(12)})
    (sheet,) = write_results(tmp_path, outputs, frames=12, fps=30, trained=trained, mp4=False)
    image = cv2.imread(str(sheet))
    rows = 2 * round(320 * 48 / 64)  # 8 of the 12 frames, 4 per row, 320 px wide tiles
    assert image.shape[1] == 4 * 320
    assert image.shape[0] > rows if caption else image.shape[0] == rows
