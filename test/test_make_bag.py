"""make-bag: frames from a synthetic video, a video file or an image folder, in both storages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from affect_perception import cli
from affect_perception.evaluation import bag_io
from affect_perception.evaluation.make_bag import START_TIME_NS

STORAGES = ["mcap", "sqlite3"]


def make_bag(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """Run ``affect-perception make-bag``; returns (exit code, stderr)."""
    code = cli.main(["make-bag", *map(str, args)])
    return code, capsys.readouterr().err


def gradient_frames(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Distinct smooth RGB frames (they survive MJPG/JPEG nearly unchanged)."""
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    return [
        np.broadcast_to(
            np.concatenate([x + 0 * y, y + 0 * x, np.full_like(x + y, 8 * i)], axis=2),
            (height, width, 3),
        ).astype(np.uint8)
        for i in range(count)
    ]


def read_back(bag: Path, topic: str) -> tuple[list[int], list[np.ndarray]]:
    frames = list(bag_io.read_frames(bag, topic))
    return [f.stamp_ns for f in frames], [f.decode() for f in frames]


@pytest.mark.parametrize("storage", STORAGES)
def test_video_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str) -> None:
    video, frames = tmp_path / "clip.avi", gradient_frames(12)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    bag = tmp_path / "bag"
    assert make_bag(capsys, "--out", bag, "--video", video, "--storage", storage)[0] == 0
    assert bag_io.topics(bag) == {bag_io.IMAGE_TOPIC: (bag_io.IMAGE_TYPE, 12)}
    stamps, decoded = read_back(bag, bag_io.IMAGE_TOPIC)
    # the video's own 10 fps sets the stamps
    assert stamps == [START_TIME_NS + i * 100_000_000 for i in range(12)]
    for got, want in zip(decoded, frames, strict=True):
        assert np.abs(got.astype(int) - want).mean() < 4  # MJPG is lossy


@pytest.mark.parametrize(
    ("storage", "options", "exact"),
    [
        ("mcap", [], True),  # rgb8
        ("sqlite3", ["--encoding", "bgr8"], True),  # bgr8 converts back exactly
        ("mcap", ["--compressed"], False),  # JPEG
        ("sqlite3", ["--compressed"], False),
    ],
)
def test_image_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    storage: str,
    options: list[str],
    exact: bool,
) -> None:
    folder, frames = tmp_path / "images", gradient_frames(5)
    folder.mkdir()
    for i in reversed(range(5)):  # written in reverse, named to sort in frame order
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    bag = tmp_path / "bag"
    code, err = make_bag(
        capsys, "--out", bag, "--images", folder, "--fps", 4, "--storage", storage, *options
    )
    assert code == 0, err
    topic = bag_io.COMPRESSED_TOPIC if "--compressed" in options else bag_io.IMAGE_TOPIC
    stamps, decoded = read_back(bag, topic)
    assert stamps == [START_TIME_NS + i * 250_000_000 for i in range(5)]
    for got, want in zip(decoded, frames, strict=True):
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            assert np.abs(got.astype(int) - want).mean() < 4


def test_frames_limits_the_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i, rgb in enumerate(gradient_frames(4)):
        cv2.imwrite(str(folder / f"{i}.jpg"), rgb)
    assert make_bag(capsys, "--out", tmp_path / "bag", "--images", folder, "--frames", 2)[0] == 0
    assert bag_io.topics(tmp_path / "bag")[bag_io.IMAGE_TOPIC][1] == 2


def bad_image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "0.png").write_bytes(b"not a png")
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--video", "missing.avi"], "does not exist"),
        (["--images", "."], "holds no"),
        (["--images", "broken"], "cannot read image"),
        (["--images", "existing", "--fps", "0"], "--fps must be positive"),
        (["--synthetic", "--out", "existing"], "already exists"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    bad_image_folder(tmp_path)
    (tmp_path / "existing").mkdir()
    out = [] if "--out" in args else ["--out", "bag"]
    code, err = make_bag(capsys, *out, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("affect-perception make-bag: error:")
    assert message in err
    assert not (tmp_path / "bag").exists()  # nothing half-written is left behind
