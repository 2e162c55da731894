"""The bundled demo model (models/demo) against what its model card claims: `affect-perception
eval` on a fresh `make-bag --synthetic --seed 7 --frames 600 --faces 2` bag reproduces the
scores stored in its eval_report.json, and those meet the targets of VA, AU and EMI."""

from __future__ import annotations

import json

import pytest

from affect_perception import cli
from affect_perception.bundled import bundled_model_dir

# Scores the demo model is held to on the bag, and the targets the model card says it meets.
SCORES = ("va_ccc", "au_f1_mean", "emi_pearson_mean", "ah_f1")
TARGETS = {"va_ccc": 0.8, "au_f1_mean": 0.8, "emi_pearson_mean": 0.7}
# Largest difference to the stored report: the same bag and model on another CPU.
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("demo_model")
    assert cli.main(["make-bag", "--synthetic", "--seed", "7", "--frames", "600", "--faces",
                     "2", "--out", str(out / "bag")]) == 0
    assert cli.main(["eval", "--bag", str(out / "bag"), "--report", str(out / "eval"),
                     "--threads", "2"]) == 0
    return json.loads((out / "eval" / "report.json").read_text())


def test_eval_reproduces_the_stored_report(report: dict) -> None:
    stored = json.loads((bundled_model_dir() / "eval_report.json").read_text())
    assert report["model_id"] == stored["model_id"]
    assert report["labelled_faces"] == stored["labelled_faces"]
    for key in SCORES:
        assert report[key] == pytest.approx(stored[key], abs=TOLERANCE), key


def test_meets_the_targets_its_card_claims(report: dict) -> None:
    card = (bundled_model_dir() / "MODEL_CARD.md").read_text()
    for key, target in TARGETS.items():
        assert report[key] >= target, (key, report[key])
    assert "Not met: A/H" in card and report["ah_f1"] < 0.7  # the card says so while it holds
