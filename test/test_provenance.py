"""What each output was taught on: model.json's provenance, its one-line forms, older folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from affect_perception import provenance
from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.resources import bundled_model_dir

ALL_SYNTHETIC = "synthetic only: valence and arousal, all 12 AUs, all 6 EMI, A/H"


def test_uniform_names_every_output_of_the_tasks() -> None:
    got = provenance.uniform(provenance.REAL, ("va", "ah"))
    assert got == {
        "va": {"valence": "real labels", "arousal": "real labels"},
        "ah": {"hesitancy": "real labels"},
    }
    every = provenance.uniform(provenance.SYNTHETIC)
    assert list(every["au"]) == list(AU_NAMES) and list(every["emi"]) == list(EMI_NAMES)


def test_a_folder_without_the_key_reads_unknown(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps({"tasks": ["va", "au"]}))
    taught, evidence = provenance.describe(tmp_path)
    assert taught == "unknown: valence and arousal, all 12 AUs"
    assert evidence.startswith("none")
    # no model.json at all: every task of the model, unknown
    assert provenance.describe(tmp_path / "missing", ("ah",))[0] == "unknown: A/H"


def test_mixed_sources_are_grouped_by_source() -> None:
    info = {
        "tasks": ["va", "au", "ah"],
        "provenance": {
            "va": {"valence": "real labels", "arousal": "synthetic only"},
            "au": {"AU12": "teacher-distilled", "AU25": "teacher-distilled"},
        },
    }
    got = provenance.from_info(info)
    assert got["au"]["AU12"] == "teacher-distilled" and got["au"]["AU1"] == "unknown"
    assert got["ah"] == {"hesitancy": "unknown"}  # the task is not stated at all
    line = provenance.taught_on(got)
    assert line == (
        "real labels: valence; synthetic only: arousal; unknown: "
        + ", ".join(n for n in AU_NAMES if n not in ("AU12", "AU25"))
        + ", A/H; teacher-distilled: AU12, AU25"
    )


@pytest.mark.parametrize(
    ("stated", "message"),
    [
        # a value outside the known sources
        ({"va": {"valence": "photos"}}, "must be one of"),
        # a task the model does not have
        ({"emi": {"Joy": "synthetic only"}}, "names tasks the model lacks: ['emi']"),
        # an output the task does not have
        ({"au": {"AU99": "synthetic only"}}, "provenance.au names unknown outputs ['AU99']"),
        # not an object
        (["synthetic only"], "must be an object"),
    ],
)
def test_malformed_provenance_is_one_clear_error(stated: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        provenance.from_info({"tasks": ["va", "au"], "provenance": stated})


def test_model_json_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text("{")
    with pytest.raises(ValueError, match="model.json is not JSON"):
        provenance.describe(tmp_path)


def test_evidence_line_from_a_realcheck_summary() -> None:
    summary = {
        "photos": ["astronaut", "camera"],
        "faces": 2,
        "still_face_hesitant_share": 0.456,
        "teacher_agreement": {
            "va": {"valence": {"spearman": {"a": 0.5, "b": 0.7}, "ceiling": 0.8}},
            "au": {
                "AU12": {"spearman": {"a": -0.2}, "ceiling": None},
                "AU1": {"spearman": {"a": None}, "ceiling": None},
            },
        },
    }
    line = provenance.evidence({provenance.EVIDENCE_KEY: summary})
    assert line == (
        "realcheck on 2 faces in 2 photos; best Spearman with a real-face teacher "
        "(ceiling) valence +0.70 (+0.80), AU12 -0.20, AU1 n/a; "
        "still faces called hesitant in 46 % of warm frames"
    )


def test_the_bundled_model_says_synthetic_only() -> None:
    taught, _ = provenance.describe(bundled_model_dir())
    assert taught == ALL_SYNTHETIC
