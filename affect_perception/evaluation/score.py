"""``affect-perception score``: score prediction files against ABAW labels, as ABAW does.

VA: the mean of the valence and arousal CCC over the frames of all videos concatenated
(frames with a -5 label left out); AU: the mean F1 over the 12 AUs (probabilities thresholded
at 0.5); EMI: the mean Pearson's r over the 6 dimensions, one row per video (or per frame
for per-frame EMI files, -5 rows left out); AH: macro F1 over all frames, the mean of the
A/H-present and absent classes' F1 (positive-class and weighted F1 beside it). File layouts:
`affect_perception.evaluation.labels_io`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from affect_perception.evaluation import labels_io, metrics
from affect_perception.labels import AU_MISSING, VA_MISSING

# Task -> (metric function, key of the headline score in its result).
TASK_METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], dict], str]] = {
    "va": (metrics.va_ccc, "va_ccc"),
    "au": (metrics.au_f1, "au_f1_mean"),
    "emi": (metrics.emi_pearson, "emi_pearson_mean"),
    "ah": (metrics.ah_f1, "ah_f1"),
}
# Task -> (the labels' documented range, their missing-label marker or None, whole numbers).
LABEL_RANGES: dict[str, tuple[tuple[float, float], float | None, bool]] = {
    "va": ((-1.0, 1.0), VA_MISSING, False),
    "au": ((0.0, 1.0), float(AU_MISSING), True),
    "emi": ((0.0, 1.0), VA_MISSING, False),
    "ah": ((0.0, 1.0), None, True),
}
# Characters of the name column in the text table.
TABLE_LABEL_WIDTH = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``score`` options."""
    parser.add_argument(
        "--task",
        required=True,
        choices=sorted(TASK_METRICS),
        help="which challenge's files and metric",
    )
    parser.add_argument(
        "--pred",
        required=True,
        type=Path,
        help="prediction file or folder (per-video files or ABAW submission)",
    )
    parser.add_argument(
        "--labels", required=True, type=Path, help="label file or folder in the ABAW layout"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )


def score(task: str, pred_path: Path, label_path: Path) -> dict:
    """Score ``pred_path`` against ``label_path``.

    Returns:
        The metric's result (the headline key and per-dimension values) plus ``task``,
        ``score`` (the headline value), ``videos`` and ``rows`` (label rows, missing included).

    Raises:
        LabelFileError: a file cannot be read or does not match its labels.
        ValueError: nothing is left to score once missing labels are removed.
    """
    metric, key = TASK_METRICS[task]
    labels = labels_io.read(label_path, task)
    for video, rows in labels.items():
        check_label_range(task, video, rows)
    pred, label = labels_io.align(labels_io.read(pred_path, task), labels)
    result = metric(pred, label)
    return {
        "task": task,
        "score": result[key],
        "videos": len(labels),
        "rows": len(label),
        **result,
    }


def check_label_range(task: str, video: str, rows: labels_io.VideoRows) -> None:
    """Labels outside the dataset's documented range (other than the missing-label marker)
    are an input error, not a score of 0.

    Raises:
        LabelFileError: naming the file, the video, the value and the range.
    """
    (low, high), missing, whole = LABEL_RANGES[task]
    values = rows.values
    bad = ~((values >= low) & (values <= high))
    if whole:
        bad |= values != np.round(values)
    if missing is not None:
        bad &= values != missing
    if bad.any():
        row, column = np.argwhere(bad)[0]
        kind = "0 or 1" if whole else f"in [{low:g}, {high:g}]"
        marker = f" or {missing:g} (missing)" if missing is not None else ""
        raise labels_io.LabelFileError(
            rows.source,
            f"video {video!r}, row {row + 1}, column {column + 1}: label "
            f"{float(values[row, column])!r} is not {kind}{marker}",
        )


def format_table(result: dict) -> str:
    """Human-readable lines: every score, per-dimension values indented under theirs."""
    lines = [f"task {result['task']}: {result['videos']} videos, {result['rows']} label rows"]
    for name, value in result.items():
        if isinstance(value, dict):
            lines += [
                f"  {name}[{dim}]".ljust(TABLE_LABEL_WIDTH) + f"{v:>8.4f}"
                for dim, v in value.items()
            ]
        elif name not in ("task", "score", "videos", "rows"):
            lines.append(name.ljust(TABLE_LABEL_WIDTH) + f"{value:>8.4f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the score; a bad input gives one line on stderr and exit code 2."""
    try:
        result = score(args.task, args.pred, args.labels)
    except ValueError as err:  # LabelFileError included
        print(f"affect-perception score: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else format_table(result))
    return 0
