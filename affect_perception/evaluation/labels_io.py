"""Read and write ABAW label and prediction files, and match predictions to labels.

Accepted layouts:

- Frame tasks (``va``, ``au``, ``ah``), per video: ``<video>.txt`` whose first line is the
  task's columns (``valence,arousal``; ``AU1,AU2,...,AU26``; ``hesitancy``) and then one row
  per frame, frame 1 first (the Aff-Wild2 annotation layout; -5 / -1 mark missing VA / AU).
- Frame tasks, ABAW submission: a file whose first line is ``image_location`` and the task's
  columns, then rows ``<video>/<frame>.jpg,...`` (frame numbers 1..n, any order, any number of
  videos per file).
- ``--pred`` / ``--labels`` name one such file or a folder of ``*.txt`` files, layouts mixed.
- EMI: one CSV ``Filename,Admiration,Amusement,Determination,Empathic Pain,Excitement,Joy``
  with one row per video; a video is known by its file name without extension. Or a folder
  of per-frame files ``<video>.txt`` headed by the six names (``synth``'s ``EMI_Frames``;
  -5 marks a missing frame).

Every problem with a file raises `LabelFileError`, naming the file and, where there is one,
the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect_perception.labels import AU_NAMES, EMI_NAMES, VA_NAMES

# Column header of each frame task's files.
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "va": VA_NAMES,
    "au": AU_NAMES,
    "ah": ("hesitancy",),
    "emi": EMI_NAMES,
}
# First column of the ABAW submission layout and of the EMI CSV.
SUBMISSION_KEY = "image_location"
EMI_KEY = "Filename"
# Suffix of the per-video files in a folder, and of the images named in a submission.
FRAME_FILE_SUFFIX = ".txt"
IMAGE_SUFFIX = ".jpg"


class LabelFileError(ValueError):
    """A label or prediction file that cannot be read or does not match its counterpart."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = Path(path), line


@dataclass(frozen=True)
class VideoRows:
    """The rows of one video: (n, d) float64 values, frame 1 (or the EMI row) first."""

    values: np.ndarray
    source: Path


def read(path: Path, task: str) -> dict[str, VideoRows]:
    """Read the labels or predictions of ``task`` from a file or folder; keys are videos."""
    path = Path(path)
    if not path.exists():
        raise LabelFileError(path, "does not exist; give an existing file or folder")
    if task == "emi" and not path.is_dir():
        return _read_emi(path)
    if task not in FRAME_COLUMNS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(FRAME_COLUMNS)}")
    files = sorted(path.glob(f"*{FRAME_FILE_SUFFIX}")) if path.is_dir() else [path]
    if not files:
        raise LabelFileError(path, f"holds no *{FRAME_FILE_SUFFIX} files")
    videos: dict[str, VideoRows] = {}
    for file in files:
        for video, rows in _read_frame_file(file, FRAME_COLUMNS[task]).items():
            if video in videos:
                raise LabelFileError(
                    file, f"video {video!r} appears again (first in {videos[video].source})"
                )
            videos[video] = rows
    return videos


def align(
    pred: dict[str, VideoRows], labels: dict[str, VideoRows]
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate predictions and labels video by video (sorted by name), checking counts.

    Returns:
        (pred, label) arrays of equal shape, all videos' rows concatenated.
    """
    for video, rows in pred.items():
        if video not in labels:
            raise LabelFileError(
                rows.source,
                f"video {video!r} has no labels; remove it or "
                "point --labels at the set it belongs to",
            )
    for video, rows in labels.items():
        if video not in pred:
            raise LabelFileError(rows.source, f"video {video!r} has no predictions")
        got = pred[video]
        if got.values.shape != rows.values.shape:
            raise LabelFileError(
                got.source,
                f"video {video!r} has {_describe(got.values)} of predictions but "
                f"its labels ({rows.source}) have {_describe(rows.values)}",
            )
    order = sorted(labels)
    return (
        np.concatenate([pred[v].values for v in order]),
        np.concatenate([labels[v].values for v in order]),
    )


def write_video_file(path: Path, task: str, values: np.ndarray) -> None:
    """Write one video's rows in the per-video layout (``<video>.txt``)."""
    columns = FRAME_COLUMNS[task]
    lines = [",".join(columns), *(_format_row(row) for row in _rows(values, len(columns)))]
    Path(path).write_text("\n".join(lines) + "\n")


def write_submission(path: Path, task: str, videos: dict[str, np.ndarray]) -> None:
    """Write all videos into one file in the ABAW submission layout."""
    columns = FRAME_COLUMNS[task]
    lines = [",".join((SUBMISSION_KEY, *columns))]
    for video, values in videos.items():
        lines += [
            f"{video}/{i:05d}{IMAGE_SUFFIX},{_format_row(row)}"
            for i, row in enumerate(_rows(values, len(columns)), start=1)
        ]
    Path(path).write_text("\n".join(lines) + "\n")


def write_emi_csv(path: Path, videos: dict[str, np.ndarray]) -> None:
    """Write the EMI CSV: one row of 6 intensities per video file name."""
    lines = [",".join((EMI_KEY, *EMI_NAMES))]
    lines += [f"{name},{_format_row(np.ravel(values))}" for name, values in videos.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def _rows(values: np.ndarray, width: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if values.shape[1] != width:
        raise ValueError(f"expected {width} values per row, got {values.shape[1]}")
    return values


def _format_row(row: np.ndarray) -> str:
    """Shortest text that reads back to the same float64 ("0", "-5", "0.123...")."""
    return ",".join(np.format_float_positional(float(v), trim="-") for v in row)


def _describe(values: np.ndarray) -> str:
    return f"{values.shape[0]} rows x {values.shape[1]} columns"


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines of a text file as (1-based line number, comma-separated cells)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise LabelFileError(
            path, f"is not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None
    except OSError as err:
        raise LabelFileError(path, f"cannot be read: {err.strerror}") from None
    lines = [
        (i, [c.strip() for c in line.split(",")])
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise LabelFileError(path, "is empty; expected a header line")
    return lines


def _numbers(path: Path, line: int, cells: list[str], columns: tuple[str, ...]) -> list[float]:
    if len(cells) != len(columns):
        raise LabelFileError(path, f"has {len(cells)} values, the header {len(columns)}", line)
    try:
        values = [float(c) for c in cells]
    except ValueError:
        raise LabelFileError(
            path, f"holds a value that is not a number: {','.join(cells)!r}", line
        ) from None
    if not np.isfinite(values).all():
        raise LabelFileError(path, "holds NaN or inf; write a finite value", line)
    return values


def _read_frame_file(path: Path, columns: tuple[str, ...]) -> dict[str, VideoRows]:
    """One per-video or submission file → {video: rows}."""
    (first, header), *body = _lines(path)
    if tuple(header) == columns:
        values = [_numbers(path, i, cells, columns) for i, cells in body]
        if not values:
            raise LabelFileError(path, "has a header but no rows")
        return {path.stem: VideoRows(np.array(values, dtype=np.float64), path)}
    if tuple(header) == (SUBMISSION_KEY, *columns):
        return _read_submission(path, body, columns)
    raise LabelFileError(
        path,
        f"header {','.join(header)!r} is neither {','.join(columns)!r} "
        f"nor {','.join((SUBMISSION_KEY, *columns))!r}",
        first,
    )


def _read_submission(
    path: Path, body: list[tuple[int, list[str]]], columns: tuple[str, ...]
) -> dict[str, VideoRows]:
    """Rows ``<video>/<frame>.jpg,...`` → {video: rows ordered by frame}, frames 1..n."""
    frames: dict[str, dict[int, tuple[int, list[float]]]] = {}
    for line, (location, *cells) in body:
        video, _, image = location.rpartition("/")
        stem = Path(image).stem
        if not video or not stem.isdigit():
            raise LabelFileError(path, f"{location!r} is not <video>/<frame number>.jpg", line)
        seen = frames.setdefault(video, {})
        if int(stem) in seen:
            raise LabelFileError(
                path, f"frame {location!r} repeats line {seen[int(stem)][0]}", line
            )
        seen[int(stem)] = (line, _numbers(path, line, cells, columns))
    videos = {}
    for video, rows in frames.items():
        missing = sorted(set(range(1, len(rows) + 1)) - set(rows))
        if missing:
            raise LabelFileError(
                path,
                f"video {video!r} has {len(rows)} frames but no frame "
                f"{missing[0]}; number frames 1..n without gaps",
            )
        values = [rows[i][1] for i in range(1, len(rows) + 1)]
        videos[video] = VideoRows(np.array(values, dtype=np.float64), path)
    return videos


def _read_emi(path: Path) -> dict[str, VideoRows]:
    (first, header), *body = _lines(path)
    if tuple(header) != (EMI_KEY, *EMI_NAMES):
        raise LabelFileError(path, f"header must be {','.join((EMI_KEY, *EMI_NAMES))!r}", first)
    videos: dict[str, VideoRows] = {}
    lines: dict[str, int] = {}
    for line, (name, *cells) in body:
        video = Path(name).stem
        if not video:
            raise LabelFileError(path, "row has no file name", line)
        if video in videos:
            raise LabelFileError(path, f"video {video!r} repeats line {lines[video]}", line)
        values = _numbers(path, line, cells, EMI_NAMES)
        videos[video], lines[video] = VideoRows(np.array([values]), path), line
    if not videos:
        raise LabelFileError(path, "has a header but no rows")
    return videos
