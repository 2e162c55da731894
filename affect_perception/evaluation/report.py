"""The evaluation report: ``report.json``, ``report.md`` and PNG plots (matplotlib, Agg).

Plots: ``va.png`` (predicted and labelled valence and arousal over time, per person),
``au_f1.png`` (F1 of each action unit), ``emi.png`` (predicted against labelled mimicry
intensities). A plot without data still exists and says why it is empty.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the Agg backend
import numpy as np  # noqa: E402

from affect_perception.evaluation.align import Series  # noqa: E402
from affect_perception.labels import AU_NAMES, EMI_NAMES, VA_MISSING, VA_NAMES  # noqa: E402

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOTS = {"va": "va.png", "au": "au_f1.png", "emi": "emi.png"}
# Persons drawn in the VA plot (the others are in the metrics only).
MAX_PLOT_PERSONS = 4
PLOT_DPI = 100
# Rows of report.md's headline table: (key, label).
HEADLINE = (
    ("va_ccc", "VA CCC (mean)"),
    ("valence_ccc", "valence CCC"),
    ("arousal_ccc", "arousal CCC"),
    ("au_f1_mean", "AU F1 (mean of 12)"),
    ("emi_pearson_mean", "EMI Pearson r (mean of 6)"),
    ("ah_f1", "A/H macro F1"),
    ("ah_f1_positive", "A/H F1, hesitant class"),
    ("ah_f1_weighted", "A/H weighted F1"),
)
COUNTS = (
    ("frames", "frames"),
    ("frames_with_face", "frames with a face"),
    ("faces", "faces (face-frames)"),
    ("tracks", "predicted tracks"),
    ("labelled_faces", "labelled faces (face-frames)"),
    ("scored_faces", "scored faces (face-frames)"),
    ("dropped", "dropped frames"),
    ("fps", "frames per second"),
    ("latency_ms_p50", "latency p50 (ms)"),
    ("latency_ms_p95", "latency p95 (ms)"),
)


def write_report(
    report: dict,
    series: Series,
    folder: Path,
    emi_rows: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write report.json, report.md and the plots into ``folder`` (created if needed).

    Args:
        report: the figures (JSON-serializable; NaN is not allowed, use None).
        series: the scored rows, for the plots.
        folder: output folder.
        emi_rows: (pred, label) EMI rows to scatter instead of the series' frames (the
            per-video rows of EMI CSV labels).

    Returns:
        Every file written, by name.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"json": folder / REPORT_JSON, "md": folder / REPORT_MD}
    files["json"].write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    plots = {
        "va": plot_va(series),
        "au": plot_au(report.get("au_f1")),
        "emi": plot_emi(*(emi_rows if emi_rows is not None else _emi_frames(series))),
    }
    for key, figure in plots.items():
        files[key] = folder / PLOTS[key]
        figure.savefig(files[key], dpi=PLOT_DPI)
        plt.close(figure)
    files["md"].write_text(markdown(report))
    return files


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def markdown(report: dict) -> str:
    """The report as Markdown: headline scores, counts and timing, notes, plots."""
    lines = [
        f"# Evaluation of `{report.get('bag', '?')}`",
        "",
        f"Model `{report.get('model_id')}`, replay `{report.get('mode')}` of topic "
        f"`{report.get('topic')}`, labels from {report.get('labels') or 'nowhere'}.",
        "",
        "| score | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {_fmt(report.get(key))} |" for key, label in HEADLINE]
    per_au = report.get("au_f1") or {}
    if per_au:
        lines += ["", "| AU | F1 |", "|---|---|"]
        lines += [f"| {name} | {_fmt(value)} |" for name, value in per_au.items()]
    lines += ["", "| count / timing | value |", "|---|---|"]
    lines += [f"| {label} | {_fmt(report.get(key))} |" for key, label in COUNTS]
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    lines += ["", "## Plots", ""]
    lines += [f"![{key}]({name})" for key, name in PLOTS.items()]
    return "\n".join(lines) + "\n"


def _empty(ax: plt.Axes, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_va(series: Series) -> plt.Figure:
    """Valence and arousal over time, predicted against labelled, one row per person."""
    persons = list(dict.fromkeys(series.person))[:MAX_PLOT_PERSONS] if len(series) else []
    if "va" not in series.label or not persons:
        figure, ax = plt.subplots(figsize=(8, 3))
        _empty(ax, "no scored frames with valence/arousal labels")
        return figure
    figure, axes = plt.subplots(
        len(persons), 2, figsize=(12, 2.6 * len(persons)), squeeze=False, sharex=True
    )
    for row, person in enumerate(persons):
        rows = series.person == person
        time = series.time[rows]
        for col, name in enumerate(VA_NAMES):
            ax = axes[row, col]
            label = series.label["va"][rows, col]
            ax.plot(
                time,
                np.where(label == VA_MISSING, np.nan, label),
                label="label",
                color="black",
                linewidth=1.5,
            )
            ax.plot(
                time,
                series.pred["va"][rows, col],
                label="prediction",
                color="tab:orange",
                linewidth=1.2,
            )
            ax.set_ylim(-1.05, 1.05)
            ax.set_title(f"{person}: {name}", fontsize=10)
            ax.grid(alpha=0.3)
        axes[row, 0].set_ylabel("value")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def plot_au(per_au: dict[str, float] | None) -> plt.Figure:
    """F1 of each action unit as bars."""
    figure, ax = plt.subplots(figsize=(8, 3.5))
    if not per_au:
        _empty(ax, "no AU scores (no AU labels or no scored frames)")
        return figure
    names = [name for name in AU_NAMES if name in per_au]
    values = [per_au[name] for name in names]
    ax.bar(names, values, color="tab:blue")
    ax.axhline(
        float(np.mean(values)),
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"mean {np.mean(values):.3f}",
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title("action units")
    ax.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def _emi_frames(series: Series) -> tuple[np.ndarray, np.ndarray]:
    if "emi" not in series.label:
        return np.zeros((0, len(EMI_NAMES))), np.zeros((0, len(EMI_NAMES)))
    return series.pred["emi"], series.label["emi"]


def plot_emi(pred: np.ndarray, label: np.ndarray) -> plt.Figure:
    """Predicted against labelled EMI intensity, one colour per dimension."""
    figure, ax = plt.subplots(figsize=(5.5, 5))
    keep = (label >= 0).all(axis=1) & np.isfinite(pred).all(axis=1) if len(label) else []
    if not np.any(keep):
        _empty(ax, "no scored EMI rows")
        return figure
    for i, name in enumerate(EMI_NAMES):
        ax.scatter(label[keep, i], pred[keep, i], s=8, alpha=0.6, label=name)
    ax.plot([0, 1], [0, 1], color="black", linewidth=1, linestyle="--")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("label")
    ax.set_ylabel("prediction")
    ax.set_title("emotional mimicry intensity")
    ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure


def finite_or_none(value: float | None) -> float | None:
    """A float for JSON: None for None, NaN or inf."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
