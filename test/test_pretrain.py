"""Frame-level backbone pretraining: state files, mirrored augmentation, a short run whose
validation improves, and weights the affect model loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import synth_root

from affect_perception import cli
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig
from affect_perception.synth.dataset import STATE_COLUMNS, STATE_DIR
from affect_perception.train.pretrain import (
    METRICS_FILE,
    MIRRORED,
    SMALL_CUES,
    WEIGHTS_FILE,
    PretrainConfig,
    Pretrainer,
    augment,
    read_frames,
)

SIZE = 64


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return synth_root(tmp_path_factory.mktemp("synth"), videos=8, frames=16)


def test_state_files_hold_the_renderer_state_of_labelled_frames(root):
    frames = read_frames(root, "Train_Set", SIZE)
    assert frames.images.shape[1:] == (SIZE, SIZE, 3) and frames.images.dtype == np.uint8
    assert frames.state.shape == (len(frames), len(STATE_COLUMNS))
    assert len(frames) == len(frames.va) == len(frames.au)
    gaze = frames.state[:, STATE_COLUMNS.index("gaze_x")]
    assert np.abs(gaze).max() <= 1.0 and gaze.std() > 0
    header = next((root / STATE_DIR / "Train_Set").glob("*.txt")).read_text().split("\n")[0]
    assert tuple(header.split(",")) == STATE_COLUMNS
    every_other = read_frames(root, "Train_Set", SIZE, step=2)
    np.testing.assert_array_equal(every_other.images[0], frames.images[0])
    np.testing.assert_array_equal(every_other.state[1], frames.state[2])
    assert len(frames) // 2 <= len(every_other) <= len(frames) // 2 + 4  # 4 videos


def test_a_mirrored_view_negates_yaw_roll_and_horizontal_gaze_only():
    x = torch.randn(64, 3, SIZE, SIZE)
    state = torch.randn(64, len(STATE_COLUMNS))
    mirrored = torch.tensor([c in MIRRORED for c in STATE_COLUMNS])
    _, out = augment(x, state, mirrored, torch.Generator().manual_seed(0))
    flipped = (out[:, mirrored] == -state[:, mirrored]).all(dim=1)
    assert 10 < int(flipped.sum()) < 54  # about half the views are mirrored
    torch.testing.assert_close(out[:, ~mirrored], state[:, ~mirrored])
    assert (out[~flipped][:, mirrored] == state[~flipped][:, mirrored]).all()


def test_the_small_cues_weigh_cue_weight_in_the_state_loss(root, tmp_path):
    config = PretrainConfig(
        train=(str(root),),
        out=str(tmp_path),
        input_size=SIZE,
        cue_weight=3.0,
        threads=1,
        progress=False,
    )
    weights = dict(zip(STATE_COLUMNS, Pretrainer(config).state_weights.tolist(), strict=True))
    assert set(SMALL_CUES) == {"gaze_x", "gaze_y", "hesitation", "hesitation_x"}
    assert weights == {c: 3.0 if c in SMALL_CUES else 1.0 for c in STATE_COLUMNS}


def test_a_short_run_learns_and_its_weights_load_into_the_affect_model(root, tmp_path):
    # frame VA CCC on the training frames rises from chance (0.02) to about 0.95 in these 6
    # epochs (48 steps; BatchNorm's running statistics need most of them)
    config = PretrainConfig(
        train=(str(root),),
        val_split="Train_Set",
        out=str(tmp_path / "pre"),
        input_size=SIZE,
        epochs=6,
        batch_size=8,
        lr=2e-3,
        warmup_steps=2,
        threads=1,
        progress=False,
    )
    trainer = Pretrainer(config)
    before = trainer.validate()
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val/va_ccc"] > before["val/va_ccc"] + 0.5
    lines = (tmp_path / "pre" / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4, 5, 6]

    weights = tmp_path / "pre" / WEIGHTS_FILE
    model = AffectModel(
        ModelConfig(variant="three", input_size=SIZE, backbone_weights=str(weights))
    )
    for name, value in trainer.model.body.state_dict().items():
        torch.testing.assert_close(model.backbone.body.state_dict()[name], value)


def test_cli_writes_weights_and_reports_missing_data(root, tmp_path, capsys):
    assert (
        cli.main(["pretrain", "--train", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")])
        == 1
    )
    assert "cropped_aligned" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "pretrain",
                "--train",
                str(root),
                "--out",
                str(tmp_path / "pre"),
                "--input-size",
                str(SIZE),
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--threads",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert f"backbone weights: {tmp_path / 'pre' / WEIGHTS_FILE}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train": ()}, "no pretraining data"),
        ({"train": ("data",), "frame_step": 0}, "frame_step must be a positive integer, got 0"),
        ({"train": ("data",), "epochs": -1}, "epochs must be a positive integer, got -1"),
    ],
)
def test_bad_settings_name_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PretrainConfig(**kwargs)
