"""What each output of a model was taught on, and what real-face evidence it has.

``model.json`` key ``provenance`` maps each task to its outputs and each output to one of
``STATES``: ``{"va": {"valence": "synthetic only", "arousal": ...}, "au": {"AU1": ...},
"emi": {"Admiration": ...}, "ah": {"hesitancy": ...}}``. Export writes it; a model folder from
before the key existed loads, and its outputs read ``UNKNOWN``. The real-face evidence is the
summary ``affect-perception realcheck --write-model`` keeps under ``real_face_evidence``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from affect_perception.labels import AU_NAMES, EMI_NAMES, TASKS, VA_NAMES
from affect_perception.model_files import MODEL_JSON, read_model_json

# Key of the provenance in model.json.
PROVENANCE_KEY = "provenance"
# Key of realcheck's summary in model.json (written by realfaces/report.py).
EVIDENCE_KEY = "real_face_evidence"
# What an output can have been taught on.
SYNTHETIC, TEACHER, REAL = "synthetic only", "teacher-distilled", "real labels"
SOURCES = (SYNTHETIC, TEACHER, REAL)
# A random-init export; an output of a model folder that does not say.
UNTRAINED, UNKNOWN = "untrained", "unknown"
# Every value model.json may hold.
STATES = (*SOURCES, UNTRAINED, UNKNOWN)
# The outputs of each task, in message order.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "va": VA_NAMES,
    "au": AU_NAMES,
    "emi": EMI_NAMES,
    "ah": ("hesitancy",),
}


def uniform(source: str, tasks: tuple[str, ...] | list[str] = TASKS) -> dict[str, dict[str, str]]:
    """Provenance of a model whose every output of ``tasks`` was taught on ``source``."""
    _check_source(source)
    return {t: dict.fromkeys(OUTPUTS[t], source) for t in tasks}


def _check_source(source: str) -> None:
    if source not in STATES:
        raise ValueError(f"provenance must be one of {list(STATES)}, got {source!r}")


def from_info(
    info: dict[str, Any], tasks: tuple[str, ...] | None = None
) -> dict[str, dict[str, str]]:
    """Per task and output of ``info`` (a parsed model.json), its source; ``UNKNOWN`` where
    model.json does not say. ``tasks``: the model's (default: model.json's, else all).

    Raises:
        ValueError: the provenance names a value outside ``STATES``, a task or an output
            the model does not have.
    """
    tasks = [t for t in (tasks or info.get("tasks", TASKS)) if t in OUTPUTS]
    given = info.get(PROVENANCE_KEY) or {}
    if not isinstance(given, dict):
        raise ValueError(f"model.json {PROVENANCE_KEY} must be an object, got {given!r}")
    extra = set(given) - set(tasks)
    if extra:
        raise ValueError(
            f"model.json {PROVENANCE_KEY} names tasks the model lacks: {sorted(extra)}"
        )
    result = {}
    for task in tasks:
        stated = given.get(task, {})
        unknown_outputs = set(stated) - set(OUTPUTS[task])
        if unknown_outputs:
            raise ValueError(
                f"model.json {PROVENANCE_KEY}.{task} names unknown outputs "
                f"{sorted(unknown_outputs)}"
            )
        for source in stated.values():
            _check_source(source)
        result[task] = {o: stated.get(o, UNKNOWN) for o in OUTPUTS[task]}
    return result


def _names(task: str, outputs: list[str]) -> str:
    if len(outputs) == len(OUTPUTS[task]) > 1:
        return {
            "va": "valence and arousal",
            "au": f"all {len(outputs)} AUs",
            "emi": f"all {len(outputs)} EMI",
        }[task]
    return ", ".join("A/H" if o == "hesitancy" else o for o in outputs)


def taught_on(provenance: dict[str, dict[str, str]]) -> str:
    """One line: each source with the outputs taught on it, e.g. ``synthetic only: valence
    and arousal, all 12 AUs, all 6 EMI, A/H``."""
    by_source: dict[str, list[str]] = {}
    for task, outputs in provenance.items():
        for source in dict.fromkeys(outputs.values()):
            names = [o for o, s in outputs.items() if s == source]
            by_source.setdefault(source, []).append(_names(task, names))
    return "; ".join(f"{source}: {', '.join(parts)}" for source, parts in by_source.items())


def _agreement(output: str, entry: dict[str, Any]) -> str:
    """``AU12 +0.59 (+0.69)``: the output's best Spearman over teacher signals, its ceiling."""
    values = [v for v in (entry.get("spearman") or {}).values() if v is not None]
    text = f"{output} {max(values):+.2f}" if values else f"{output} n/a"
    ceiling = entry.get("ceiling")
    return text if ceiling is None else f"{text} ({ceiling:+.2f})"


def evidence(info: dict[str, Any]) -> str:
    """One line on the real-face evidence in ``info`` (a parsed model.json)."""
    summary = info.get(EVIDENCE_KEY)
    if not summary:
        return "none (run affect-perception realcheck --write-model)"
    compared = [
        _agreement(o, a)
        for group in summary.get("teacher_agreement", {}).values()
        for o, a in group.items()
    ]
    share = summary.get("still_face_hesitant_share")
    parts = [
        f"realcheck on {summary.get('faces', '?')} faces in "
        f"{len(summary.get('photos', []))} photos"
    ]
    if compared:
        parts.append("best Spearman with a real-face teacher (ceiling) " + ", ".join(compared))
    if share is not None:
        parts.append(f"still faces called hesitant in {100 * share:.0f} % of warm frames")
    return "; ".join(parts)


def describe(model_dir: Path, tasks: tuple[str, ...] | None = None) -> tuple[str, str]:
    """(what the outputs were taught on, the real-face evidence) of a model folder, one line
    each.

    Raises:
        ValueError: model.json is not JSON or its provenance is malformed.
    """
    try:
        info = read_model_json(model_dir)
    except json.JSONDecodeError as err:
        raise ValueError(f"{Path(model_dir) / MODEL_JSON} is not JSON: {err}") from None
    return taught_on(from_info(info, tasks)), evidence(info)
