"""Decision thresholds tuned on validation and folded into the heads' biases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import synth_root, tiny_config

from affect_perception.evaluation import metrics
from affect_perception.labels import AU_NAMES
from affect_perception.model.checkpoint import load_checkpoint
from affect_perception.model.heads import TaskHeads
from affect_perception.train.calibration import GRID, TASK_SCORES, best_threshold
from affect_perception.train.trainer import BEST, CALIBRATION_FILE, Trainer


def test_best_threshold_separates_low_scoring_positives():
    # every positive scores 0.35, every negative 0.2: any threshold in (0.2, 0.35] is perfect
    # and the one nearest 0.5 is chosen; at 0.5 nothing would fire (F1 0)
    prob = np.array([0.35] * 5 + [0.2] * 15)
    label = np.array([1.0] * 5 + [0.0] * 15)
    assert best_threshold(prob, label) == pytest.approx(0.34)
    assert metrics.f1_binary(prob, label) == 0.0


def test_a_h_threshold_maximises_macro_f1():
    # positives 0.8, 0.4, 0.4; negatives 0.4 (4 times), 0.1 (twice)
    prob = np.array([0.8, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.1, 0.1])
    label = np.array([1.0, 1, 1, 0, 0, 0, 0, 0, 0])
    # t in (0.1, 0.4]: hesitant F1 6/10 = 0.6, calm 4/8 = 0.5, macro 0.55
    # t in (0.4, 0.8]: hesitant F1 2/4 = 0.5, calm 12/14, macro 0.68: the macro-best
    assert best_threshold(prob, label) == pytest.approx(0.4)
    assert best_threshold(prob, label, TASK_SCORES["ah"]) == pytest.approx(0.5)
    assert TASK_SCORES["ah"](prob >= 0.5, label) == pytest.approx((0.5 + 12 / 14) / 2)


def test_moved_decision_point_reads_half_at_the_old_threshold():
    heads = TaskHeads(8, ("va", "au", "ah")).eval()
    x = torch.randn(5, 8)
    with torch.no_grad():
        before = torch.sigmoid(heads(x)["au"])
        heads.move_decision_point("au", before[0])  # the first row's probabilities
        after = torch.sigmoid(heads(x)["au"])
    torch.testing.assert_close(after[0], torch.full((len(AU_NAMES),), 0.5))
    # the other rows: the same decisions at 0.5 as before at the moved points
    assert torch.equal(after[1:] >= 0.5, before[1:] >= before[0])
    with pytest.raises(ValueError, match="no logit output"):
        heads.move_decision_point("va", torch.tensor([0.3, 0.3]))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return synth_root(tmp_path_factory.mktemp("synth"))


def test_training_calibrates_the_best_checkpoint_on_validation(root, tmp_path):
    config = tiny_config(root, tmp_path / "run").updated({"model": {"tasks": ["va", "au", "ah"]}})
    trainer = Trainer(config)
    trainer.fit()
    assert not (tmp_path / "run" / CALIBRATION_FILE).exists()  # off by default
    raw = load_checkpoint(tmp_path / "run" / BEST)
    raw_pred = trainer._predict_with(raw, trainer.val_videos, trainer.val_cache)

    record = trainer.calibrate()
    assert json.loads((tmp_path / "run" / CALIBRATION_FILE).read_text()) == record
    thresholds = record["thresholds"]
    assert set(thresholds) == {"au", "ah"} and list(thresholds["au"]) == list(AU_NAMES)
    chosen = np.array(list(thresholds["au"].values()))
    assert np.isin(chosen, GRID).all()
    assert (chosen != 0.5).any()  # the tiny model's best thresholds are not all at 0.5

    # the stored best now decides at 0.5 what the raw model decided at the chosen thresholds
    calibrated = load_checkpoint(tmp_path / "run" / BEST)
    pred = trainer._predict_with(calibrated, trainer.val_videos, trainer.val_cache)
    for video in trainer.val_videos:
        assert np.array_equal(pred[video.name]["au"] >= 0.5, raw_pred[video.name]["au"] >= chosen)
        np.testing.assert_allclose(pred[video.name]["va"], raw_pred[video.name]["va"])
    before, after = record["val_before"], record["val_after"]
    assert after["au_f1_mean"] >= before["au_f1_mean"]
    assert after["va_ccc"] == pytest.approx(before["va_ccc"])


def test_a_run_calibrates_after_its_last_epoch_only(root, tmp_path):
    config = tiny_config(root, tmp_path / "run", epochs=1, calibrate=True).updated(
        {"model": {"tasks": ["au"]}}
    )
    trainer = Trainer(config)
    trainer.fit()
    path = tmp_path / "run" / CALIBRATION_FILE
    assert set(json.loads(path.read_text())["thresholds"]) == {"au"}
    path.unlink()
    trainer.fit()  # nothing left to train: the calibrated checkpoint is not calibrated again
    assert not path.exists()
