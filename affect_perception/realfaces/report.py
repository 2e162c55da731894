"""realcheck's outputs: the Markdown report, the contact sheet, and the summary a model folder
keeps (``model.json`` key ``real_face_evidence`` and a section of MODEL_CARD.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from affect_perception.figures import figure
from affect_perception.labels import TASKS
from affect_perception.model_card import write_section
from affect_perception.model_files import read_model_json, write_model_json
from affect_perception.provenance import EVIDENCE_KEY
from affect_perception.realfaces.realcheck import Face
from affect_perception.realfaces.teachers.ensemble import expression_signals

# Output group (as in model.json's provenance) of each output realcheck compares.
OUTPUT_GROUP = {"valence": "va", "Joy": "emi", "Amusement": "emi"}
CARD_BEGIN = "<!-- realcheck: begin (written by `affect-perception realcheck --write-model`) -->"
CARD_END = "<!-- realcheck: end -->"
TILE = 176
TEXT_LINES = 5
LINE_PX = 14


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 3 decimals (nested dicts and lists too)."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a model folder keeps: per output group, what the real faces showed."""
    views = report["invariance"]["views"].values()
    maxima = {
        k: max(
            (v[f"{k}_delta_max"] for v in views if v[f"{k}_delta_max"] is not None), default=None
        )
        for k in ("valence", "au")
    }
    agreement: dict[str, dict[str, Any]] = {t: {} for t in TASKS}
    for output, entry in report.get("agreement", {}).items():
        ceiling = entry["ceiling"]["spearman"] if entry["ceiling"] else None
        agreement[OUTPUT_GROUP.get(output, "au")][output] = {
            "spearman": entry["spearman"],
            "ceiling": ceiling,
            "faces": entry["faces"],
        }
    detection = report["detection"]
    hesitancy = report["still_face_hesitancy"]
    return _rounded(
        {
            "check": "affect-perception realcheck (docs/REALFACES.md)",
            "photos": report["photos"],
            "faces": report["faces"],
            "group_faces_found": {
                f"threshold {d['threshold']}": f"{d['group_found']}/{d['group_faces']}"
                for d in detection.values()
            },
            "track_id_churn": report["ids"]["churn"],
            "still_face_hesitant_share": hesitancy["share"],
            "still_face_hesitant_share_per_clip": hesitancy["per_clip"],
            "invariance_max_delta": {**maxima, "limit": report["invariance"]["limit"]},
            "teacher_agreement": {k: v for k, v in agreement.items() if v},
            "no_real_face_evidence": report["not_covered_by_teachers"],
        }
    )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    lines = [
        f"# Real-face check of `{report['model_id']}`",
        "",
        f"{report['faces']} labelled faces in {len(report['photos'])} photos "
        f"({', '.join(report['photos'])}); {report['faces_with_outputs']} got warm model "
        "outputs. No person here is labelled: these are checks of consistency and of "
        "agreement with other models, not accuracy. See docs/REALFACES.md.",
        "",
        "## Detection (labelled faces found)",
        "",
        "| detector threshold | group photos | all photos | detections on no face |",
        "|---|---|---|---|",
    ]
    for d in report["detection"].values():
        total = sum(p["faces"] for p in d["photos"].values())
        found = sum(p["found"] for p in d["photos"].values())
        lines.append(
            f"| {d['threshold']} | {d['group_found']}/{d['group_faces']} | "
            f"{found}/{total} | {d['extra']} |"
        )
    lines += [
        "",
        "## Clips of still photos: track ids and hesitancy",
        "",
        f"Id churn (extra track ids over all clips): {report['ids']['churn']}. "
        "Still-face hesitancy over all warm face-frames: "
        f"{_pct(report['still_face_hesitancy']['share'])}.",
        "",
        "| clip | frames with a face | faces / track ids | warm face-frames | hesitant | "
        "mean valence |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in report["clips"].items():
        lines.append(
            f"| {name} | {c['frames_with_face']}/{c['frames']} | "
            f"{c['faces']} / {c['track_ids']} | "
            f"{c['warm_face_frames']} | {_pct(c['hesitant_share'])} | "
            f"{figure(c['mean_valence'], '+.2f')} |"
        )
    inv = report["invariance"]
    lines += [
        "",
        f"## Invariances (limit {inv['limit']})",
        "",
        "| view | faces | Δ valence median / max | largest Δ AU median / max | "
        "faces within limit |",
        "|---|---|---|---|---|",
    ]
    for view, v in inv["views"].items():
        lines.append(
            f"| {view} | {v['faces']} | {figure(v['valence_delta_median'])} / "
            f"{figure(v['valence_delta_max'])} | {figure(v['au_delta_median'])} / "
            f"{figure(v['au_delta_max'])} | {v['within_limit']}/{v['faces']} |"
        )
    if "agreement" in report:
        lines += [
            "",
            "## Agreement with the teachers (Spearman over faces)",
            "",
            "Model outputs averaged over the five views, teachers over 3 crop scales × "
            "mirror. The ceiling is the agreement of two teachers with each other.",
            "",
            "| output | faces | model vs teacher signal | ceiling |",
            "|---|---|---|---|",
        ]
        for output, a in report["agreement"].items():
            pairs = ", ".join(f"{t} {figure(r, '+.2f')}" for t, r in a["spearman"].items())
            ceiling = (
                "one teacher only"
                if a["ceiling"] is None
                else (
                    f"{figure(a['ceiling']['spearman'], '+.2f')} "
                    f"({' vs '.join(a['ceiling']['between'])})"
                )
            )
            lines.append(f"| {output} | {a['faces']} | {pairs} | {ceiling} |")
    lines += [
        "",
        "## Not covered by any offline teacher",
        "",
        ", ".join(report["not_covered_by_teachers"]) + ": no real-face evidence.",
        "",
    ]
    return "\n".join(lines)


def _tile(image: np.ndarray, face: Face) -> np.ndarray:
    """One face of the contact sheet: the crop, its landmarks, and the outputs under it."""
    tile = np.full((TILE + TEXT_LINES * LINE_PX + 4, TILE, 3), 255, np.uint8)
    if face.box is not None:
        x1, y1, x2, y2 = face.box
        side = max(x2 - x1, y2 - y1) * 1.3
        scale = TILE / side
        origin = ((x1 + x2) / 2 - side / 2, (y1 + y2) / 2 - side / 2)
        matrix = np.array([[scale, 0, -scale * origin[0]], [0, scale, -scale * origin[1]]])
        tile[:TILE] = cv2.warpAffine(image, matrix, (TILE, TILE), borderValue=(255, 255, 255))
        if face.teaching is not None:
            for x, y in (face.teaching.landmarks - origin) * scale:
                cv2.circle(tile, (int(x), int(y)), 0, (0, 255, 0), -1)
    out = face.outputs.get("photo")
    text = [face.name]
    if out is None:
        text.append("no warm model output")
    else:
        text.append(
            f"V {out['valence']:+.2f} AU12 {out['au']['AU12']:.2f} Joy {out['emi']['Joy']:.2f}"
        )
        text.append(f"AH {out['ah_prob']:.2f} AU25 {out['au']['AU25']:.2f}")
    if face.teaching is not None:
        for teacher, probs in face.teaching.expressions.items():
            s = expression_signals(probs)
            text.append(f"{teacher}: V {s['valence']:+.2f} hap {s['Joy']:.2f}")
    for i, line in enumerate(text[:TEXT_LINES]):
        cv2.putText(
            tile,
            line,
            (3, TILE + LINE_PX * (i + 1)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.36,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return tile


def contact_sheet(
    faces: list[Face], photos: dict[str, np.ndarray], columns: int = 6
) -> np.ndarray:
    """RGB image of every face with the model's and the teachers' outputs."""
    tiles = [_tile(photos[f.photo], f) for f in faces]
    if not tiles:
        raise ValueError("no faces for the contact sheet")
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def write_report(
    report: dict[str, Any], faces: list[Face], photos: dict[str, np.ndarray], out: Path
) -> list[Path]:
    """realcheck.json, realcheck.md and realcheck_faces.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "realcheck.json", out / "realcheck.md", out / "realcheck_faces.png"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n")
    paths[1].write_text(markdown(report))
    cv2.imwrite(str(paths[2]), cv2.cvtColor(contact_sheet(faces, photos), cv2.COLOR_RGB2BGR))
    return paths


def write_to_model(report: dict[str, Any], model_dir: Path) -> None:
    """Put the summary into the model folder's model.json and a MODEL_CARD.md section
    (replacing an earlier one)."""
    write_model_json(model_dir, {**read_model_json(model_dir), EVIDENCE_KEY: summary(report)})
    body = markdown(report).replace("# Real-face check", "## Real-face evidence: check", 1)
    write_section(model_dir, CARD_BEGIN, CARD_END, body.replace("\n## ", "\n### "))
