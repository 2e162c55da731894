"""The unseen-seed table: mean ± sd per metric over synthetic bags, and the model card section."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from affect_perception.evaluation import unseen_seeds
from affect_perception.model_card import write_section


def report(va: float, au: float, ah: float | None) -> dict:
    return {
        "va_ccc": va,
        "valence_ccc": va,
        "arousal_ccc": va,
        "au_f1_mean": au,
        "emi_pearson_mean": 0.75,
        "ah_f1": ah,
        "ah_f1_positive": ah,
        "ah_f1_weighted": ah,
        "au_f1": {"AU1": au, "AU2": 1.0},
        "model_id": "m",
    }


def test_mean_and_sample_sd_per_metric() -> None:
    got = unseen_seeds.summarize(
        {11: report(0.9, 0.7, 0.8), 12: report(0.8, 0.9, None), 13: report(0.7, 0.8, 0.6)}
    )
    va = got["metrics"]["va_ccc"]
    # mean 0.8; sample sd sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    assert va["mean"] == pytest.approx(0.8) and va["sd"] == pytest.approx(0.1)
    assert va["per_seed"] == {11: 0.9, 12: 0.8, 13: 0.7} and va["target"] == 0.8
    ah = got["metrics"]["ah_f1"]  # a seed without A/H labels is left out, not counted as 0
    assert ah["mean"] == pytest.approx(0.7) and ah["sd"] == pytest.approx(0.2**0.5 / 10**0.5)
    assert got["au_f1_mean_per_au"] == pytest.approx({"AU1": 0.8, "AU2": 1.0})
    text = unseen_seeds.markdown(got)
    assert "| VA CCC | ≥ 0.8 | 0.800 ± 0.100 (met) | 0.900 | 0.800 | 0.700 |" in text
    assert "| mean AU F1 | ≥ 0.8 | 0.800 ± 0.100 (met) |" in text
    assert "| A/H macro F1 | ≥ 0.8 | 0.700 ± 0.141 (**not met**) | 0.800 | n/a | 0.600 |" in text


def test_card_section_is_replaced_not_repeated(tmp_path: Path) -> None:
    (tmp_path / "MODEL_CARD.md").write_text("# Card\n\ntext\n")
    write_section(tmp_path, "<!-- a -->", "<!-- /a -->", "first\n")
    write_section(tmp_path, "<!-- b -->", "<!-- /b -->", "other")
    write_section(tmp_path, "<!-- a -->", "<!-- /a -->", "second\n")
    text = (tmp_path / "MODEL_CARD.md").read_text()
    assert text == (
        "# Card\n\ntext\n\n<!-- b -->\nother\n<!-- /b -->\n\n<!-- a -->\nsecond\n<!-- /a -->\n"
    )


def test_two_small_bags_end_to_end(random_model_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(random_model_dir, model)
    assert (
        unseen_seeds.main(
            [
                "--model",
                str(model),
                "--out",
                str(tmp_path / "out"),
                "--seeds",
                "1003,1004",  # people whose VA labels change (1001's holds still: CCC undefined)
                "--frames",
                "24",
                "--faces",
                "1",
                "--write-card",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "out" / "unseen_seeds.json").read_text())
    assert summary["seeds"] == [1003, 1004] and summary["frames"] == 24
    for key, *_ in unseen_seeds.METRICS:
        assert set(summary["metrics"][key]["per_seed"]) == {"1003", "1004"}, key
    assert summary["metrics"]["va_ccc"]["sd"] is not None
    card = (model / "MODEL_CARD.md").read_text()
    assert unseen_seeds.CARD_BEGIN in card and "| VA CCC | ≥ 0.8 |" in card


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "1,x"], "--seeds must be integers"),
        (["--model", "no_such_folder"], "--model no_such_folder is not a folder"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert unseen_seeds.main([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
