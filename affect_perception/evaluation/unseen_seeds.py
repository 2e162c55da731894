"""A model on synthetic bags from seeds no training, tuning or test uses: mean ± sd per metric.

``python -m affect_perception.evaluation.unseen_seeds --out out/unseen_seeds [--write-card]``
draws one bag per seed (``make-bag --synthetic``, two people, 20 s, as the demo recipe's seed-7
bag), replays each through the pipeline (``eval``), and writes ``unseen_seeds.json`` and
``unseen_seeds.md``; ``--write-card`` also puts the table into the model folder's MODEL_CARD.md
(replacing an earlier one). Training uses seeds 1 and 2, the recipe's bag 7, the tests seeds
below 1000, so the default seeds 1001-1005 are unseen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from affect_perception import cli
from affect_perception.cli_errors import InputError
from affect_perception.cli_options import add_model_option, chosen_model
from affect_perception.figures import figure
from affect_perception.model_card import write_section

DEFAULT_SEEDS = (1001, 1002, 1003, 1004, 1005)
# The bag of every seed: frames and people (the demo recipe's bag).
FRAMES, FACES = 600, 2
# Metrics in the table: (report key, label, target or None).
METRICS = (
    ("va_ccc", "VA CCC", 0.8),
    ("valence_ccc", "valence CCC", None),
    ("arousal_ccc", "arousal CCC", None),
    ("au_f1_mean", "mean AU F1", 0.8),
    ("emi_pearson_mean", "mean EMI Pearson", 0.7),
    ("ah_f1", "A/H macro F1", 0.8),
    ("ah_f1_positive", "A/H F1, hesitant class", None),
    ("ah_f1_weighted", "A/H weighted F1", None),
)
CARD_BEGIN = "<!-- unseen seeds: begin (written by evaluation/unseen_seeds.py --write-card) -->"
CARD_END = "<!-- unseen seeds: end -->"


def score_seed(
    model_dir: Path,
    seed: int,
    work: Path,
    frames: int = FRAMES,
    faces: int = FACES,
    threads: int = 2,
) -> dict[str, Any]:
    """make-bag and eval of one seed; the eval report."""
    bag, report = work / f"bag_{seed}", work / f"eval_{seed}"
    if (
        cli.main(
            [
                "make-bag",
                "--synthetic",
                "--seed",
                str(seed),
                "--frames",
                str(frames),
                "--faces",
                str(faces),
                "--out",
                str(bag),
            ]
        )
        != 0
    ):
        raise RuntimeError(f"make-bag failed for seed {seed}")
    if (
        cli.main(
            [
                "eval",
                "--bag",
                str(bag),
                "--model",
                str(model_dir),
                "--report",
                str(report),
                "--threads",
                str(threads),
            ]
        )
        != 0
    ):
        raise RuntimeError(f"eval failed for seed {seed}")
    return json.loads((report / "report.json").read_text())


def summarize(
    reports: dict[int, dict[str, Any]], frames: int = FRAMES, faces: int = FACES
) -> dict[str, Any]:
    """Per metric: the value of every seed, their mean and sample standard deviation (None
    where a seed could not be scored), and the per-AU F1 means."""
    table: dict[str, Any] = {}
    for key, _, target in METRICS:
        values = [r.get(key) for r in reports.values()]
        scored = [v for v in values if v is not None]
        table[key] = {
            "per_seed": dict(zip(reports, values, strict=True)),
            "target": target,
            "mean": float(np.mean(scored)) if scored else None,
            "sd": float(np.std(scored, ddof=1)) if len(scored) > 1 else None,
        }
    au_names = next((list(r["au_f1"]) for r in reports.values() if r.get("au_f1")), [])
    per_au = {
        n: float(np.mean([r["au_f1"][n] for r in reports.values() if r.get("au_f1")]))
        for n in au_names
    }
    model_ids = sorted({str(r.get("model_id")) for r in reports.values()})
    return {
        "seeds": list(reports),
        "frames": frames,
        "faces": faces,
        "model_ids": model_ids,
        "metrics": table,
        "au_f1_mean_per_au": per_au,
    }


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown section."""
    seeds = summary["seeds"]
    lines = [
        "## Unseen synthetic bags",
        "",
        f"`make-bag --synthetic --frames {summary['frames']} --faces {summary['faces']}` "
        f"with seeds {', '.join(map(str, seeds))} (used by no training, tuning or test), "
        "each replayed by `affect-perception eval` (warm windows, per frame). Model "
        f"{', '.join(f'`{m}`' for m in summary['model_ids'])}.",
        "",
        "| metric | target | mean ± sd | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|---|---|" + "---|" * len(seeds),
    ]
    for key, label, _ in METRICS:
        m = summary["metrics"][key]
        target = "" if m["target"] is None else f"≥ {m['target']}"
        met = (
            ""
            if m["target"] is None or m["mean"] is None
            else (" (met)" if m["mean"] >= m["target"] else " (**not met**)")
        )
        lines.append(
            f"| {label} | {target} | {figure(m['mean'], '.3f')} ± {figure(m['sd'], '.3f')}{met} | "
            + " | ".join(figure(m["per_seed"][s], ".3f") for s in seeds)
            + " |"
        )
    per_au = summary["au_f1_mean_per_au"]
    if per_au:
        lines += [
            "",
            "Mean F1 per AU over the seeds: "
            + ", ".join(f"{n} {v:.2f}" for n, v in per_au.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Score every seed, write the report (and the card section); 2 on a bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m affect_perception.evaluation.unseen_seeds",
        description=__doc__.splitlines()[0],
    )
    add_model_option(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for bags and reports")
    parser.add_argument(
        "--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="comma-separated bag seeds"
    )
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per bag")
    parser.add_argument("--faces", type=int, default=FACES, help="people per bag")
    parser.add_argument(
        "--write-card",
        action="store_true",
        help="also write the table into the model folder's MODEL_CARD.md",
    )
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        print(f"unseen_seeds: --seeds must be integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    try:
        model_dir = chosen_model(args.model)
    except InputError as err:
        print(f"unseen_seeds: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    reports = {s: score_seed(model_dir, s, args.out, args.frames, args.faces) for s in seeds}
    summary = summarize(reports, args.frames, args.faces)
    (args.out / "unseen_seeds.json").write_text(json.dumps(summary, indent=2) + "\n")
    section = markdown(summary)
    (args.out / "unseen_seeds.md").write_text(section)
    if args.write_card:
        write_section(model_dir, CARD_BEGIN, CARD_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
