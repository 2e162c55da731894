"""Training runs on a tiny synthetic set: learning, checkpoints, resume and the config file."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import yaml
from train_fixtures import synth_root, tiny_config

from affect_perception import cli
from affect_perception.model.checkpoint import load_checkpoint
from affect_perception.train import cli as train_cli
from affect_perception.train.config import CONFIG_FILE, TrainConfig
from affect_perception.train.feature_cache import FrozenSplit
from affect_perception.train.trainer import BEST, LAST, METRICS_FILE, Trainer


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return synth_root(tmp_path_factory.mktemp("synth"))


def test_cli_run_improves_validation_and_writes_its_outputs(root, tmp_path):
    # VA on the training videos: CCC rises from about 0 to about 0.8 in these 24 steps
    config = tiny_config(root, tmp_path / "run", epochs=3, steps_per_epoch=8, lr=3e-3)
    config = config.updated({"model": {"tasks": ["va"]}})
    config.save(tmp_path)
    assert cli.main(["train", "--config", str(tmp_path / CONFIG_FILE)]) == 0
    history = [json.loads(line) for line in (tmp_path / "run" / METRICS_FILE).open()]
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    assert history[-1]["val/va_ccc"] > history[0]["val/va_ccc"] + 0.3
    model = load_checkpoint(tmp_path / "run" / BEST)
    assert model.config == config.model
    assert TrainConfig.load(tmp_path / "run" / CONFIG_FILE) == config


def test_resume_continues_with_the_same_state(root, tmp_path):
    straight = Trainer(tiny_config(root, tmp_path / "a"))
    straight.fit()
    first = Trainer(tiny_config(root, tmp_path / "b"))
    first.fit(until_epoch=1)
    resumed = Trainer(tiny_config(root, tmp_path / "b", resume=str(tmp_path / "b" / LAST)))
    assert resumed.step == first.step == 4 and resumed.epoch == 1
    saved, loaded = first.optimizer.state_dict(), resumed.optimizer.state_dict()
    for key, state in saved["state"].items():
        torch.testing.assert_close(state["exp_avg"], loaded["state"][key]["exp_avg"])
    resumed.fit()
    assert resumed.step == straight.step == 8
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)


def test_resume_with_another_model_says_so(root, tmp_path):
    Trainer(tiny_config(root, tmp_path / "a")).fit(until_epoch=1)
    other = tiny_config(root, tmp_path / "b", resume=str(tmp_path / "a" / LAST))
    other = other.updated({"model": {"hidden_dim": 16}})
    with pytest.raises(ValueError, match="another model config"):
        Trainer(other)


def test_cached_encoder_split_equals_the_encoder(root, tmp_path):
    trainer = Trainer(tiny_config(root, tmp_path))
    model = trainer.model.eval()
    images = torch.randn(3, 3, 128, 128)
    split = FrozenSplit(model)
    with torch.no_grad():
        want = model.encode(images)
        got = split.suffix(split.prefix(images))
    for name in want:
        torch.testing.assert_close(got[name], want[name])


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_override_the_yaml_and_unset_flags_do_not(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {"model": {"variant": "three", "window": 16}, "run": {"lr": 0.01, "epochs": 7}}
        )
    )
    config = train_cli.config_from_args(
        _parse(
            [
                "--config",
                str(path),
                "--epochs",
                "3",
                "--tasks",
                "va",
                "au",
                "--no-progress",
                "--cache-channels",
                "null",
                "--min-lr",
                "2e-5",
                "--out",
                "2024",
            ]
        )
    )
    assert config.run.epochs == 3 and config.run.lr == 0.01 and not config.run.progress
    assert config.run.min_lr == 2e-5  # YAML 1.1 alone would read "2e-5" as text
    assert config.run.out == "2024"  # a path stays text
    assert config.model.variant == "three" and config.model.window == 16
    assert config.model.tasks == ("va", "au") and config.model.cache_channels is None
    assert config.run.batch_size == TrainConfig().run.batch_size


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {"window": 6}}, "not a multiple of time_patch"),  # model validation
        ({"run": {"lr": 0.1, "speed": 2}}, r"unknown keys \['speed'\]"),
        ({"optim": {}}, r"unknown config sections \['optim'\]"),
        ({"run": {"lr": "fast"}}, "lr must be a number"),
        ({"run": {"feature_cache": True, "pixel_augment": True}}, "pixel_augment needs"),
    ],
)
def test_bad_configs_name_the_fix(data, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


def test_cli_reports_missing_data(tmp_path, capsys):
    assert cli.main(["train", "--train", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "cropped_aligned" in capsys.readouterr().err
