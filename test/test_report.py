"""The evaluation report: JSON without NaN, Markdown with every headline, plots that open."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from affect_perception.evaluation.align import TASK_WIDTH, Series
from affect_perception.evaluation.report import (
    HEADLINE,
    PLOTS,
    finite_or_none,
    markdown,
    write_report,
)
from affect_perception.labels import AU_NAMES, VA_MISSING


def make_series(n: int, persons: tuple[str, ...] = ("person0", "person1")) -> Series:
    """n rows per person of random predictions and labels (a few VA labels missing)."""
    rng = np.random.default_rng(0)
    total = n * len(persons)
    label = {
        "va": rng.uniform(-1, 1, (total, 2)),
        "au": rng.integers(0, 2, (total, 12)),
        "emi": rng.uniform(0, 1, (total, 6)),
        "ah": rng.integers(0, 2, (total, 1)),
    }
    label["va"][:3] = VA_MISSING
    return Series(
        person=np.repeat(np.array(persons, dtype=object), n),
        frame=np.tile(np.arange(n), len(persons)),
        time=np.tile(np.arange(n) / 30.0, len(persons)),
        pred={t: rng.uniform(0, 1, (total, w)) for t, w in TASK_WIDTH.items()},
        label={k: v.astype(np.float64) for k, v in label.items()},
    )


def empty_series() -> Series:
    return Series(
        person=np.zeros(0, object),
        frame=np.zeros(0, np.int64),
        time=np.zeros(0),
        pred={t: np.zeros((0, w)) for t, w in TASK_WIDTH.items()},
        label={},
    )


REPORT = {
    "bag": "b",
    "model_id": "m",
    "mode": "inprocess",
    "topic": "/camera/image_raw",
    "labels": "the bag's /ground_truth/affect topic",
    "va_ccc": 0.5,
    "valence_ccc": 0.25,
    "arousal_ccc": 0.75,
    "au_f1_mean": 0.5,
    "au_f1": {name: i / 12 for i, name in enumerate(AU_NAMES)},
    "emi_pearson_mean": None,
    "ah_f1": 0.0,
    "frames": 40,
    "fps": 123.4,
    "notes": ["scored only warm windows"],
}


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


@pytest.mark.parametrize(
    "series",
    [make_series(30), make_series(5, ("a",)), empty_series()],
    ids=["two persons", "one person", "nothing scored"],
)
def test_report_files_exist_and_open(tmp_path: Path, series: Series) -> None:
    files = write_report(REPORT, series, tmp_path / "out")
    assert json.loads(files["json"].read_text()) == REPORT
    for key, name in PLOTS.items():
        assert files[key] == tmp_path / "out" / name
        assert_png(files[key])
    text = files["md"].read_text()
    assert all(label in text for _, label in HEADLINE)
    assert "| AU12 | 0.5000 |" in text and "| EMI Pearson r (mean of 6) | n/a |" in text
    assert all(f"]({name})" in text for name in PLOTS.values())


def test_empty_au_scores_still_plot(tmp_path: Path) -> None:
    files = write_report({**REPORT, "au_f1": None}, empty_series(), tmp_path)
    assert_png(files["au"])


def test_emi_rows_override_the_series(tmp_path: Path) -> None:
    rows = (np.full((1, 6), 0.5), np.linspace(0, 1, 6)[None])
    files = write_report(REPORT, empty_series(), tmp_path, emi_rows=rows)
    assert_png(files["emi"])


def test_nan_is_refused_in_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_report({**REPORT, "fps": math.nan}, empty_series(), tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (math.nan, None),
        (math.inf, None),
        (1.5, 1.5),
        (np.float32(0.25), 0.25),
    ],
)
def test_finite_or_none(value: float | None, expected: float | None) -> None:
    assert finite_or_none(value) == expected


def test_markdown_lists_notes_and_counts() -> None:
    text = markdown({**REPORT, "dropped": 3, "latency_ms_p50": 12.5})
    assert "- scored only warm windows" in text
    assert "| dropped frames | 3 |" in text and "| latency p50 (ms) | 12.5000 |" in text
