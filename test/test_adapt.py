"""`adapt`'s parts: the ONNX model folder back into torch, recordings, targets, the split, and
the trainer's fine-tune switches (init weights, fixed BatchNorm statistics)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
from train_fixtures import synth_root, tiny_config

from affect_perception.adapt.recordings import Recording
from affect_perception.adapt.run import split_tracks
from affect_perception.adapt.targets import (
    COVERED,
    au_scales,
    column_masks,
    neutrals,
    track_video,
)
from affect_perception.evaluation.bag_io import IMAGE_TOPIC, BagWriter
from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.model.checkpoint import save_checkpoint
from affect_perception.model.imports.onnx_folder import OnnxImportError, model_from_onnx
from affect_perception.realfaces.teachers.ensemble import CLASSES
from affect_perception.realfaces.teachers.geometry import FEATURES
from affect_perception.resources import bundled_model_dir
from affect_perception.runtime.engine import AffectEngine, EngineConfig
from affect_perception.train.trainer import Trainer, read_videos

# ---- the demo model folder (ONNX only) back into a trainable torch model ----


def test_demo_model_rebuilt_from_onnx_computes_what_the_onnx_files_do():
    model = model_from_onnx(bundled_model_dir())
    engine = AffectEngine(EngineConfig(model_dir=bundled_model_dir()))
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (model.config.window, 128, 128, 3), dtype=np.uint8)
    cache = engine.windows(max_tracks=1, max_gap=0)
    for crop in crops:
        cache.push(["face"], engine.encode(crop[None]))
    ort_out = engine.temporal(cache.gather(["face"]))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.mean, model.std))
    images = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        maps = model.encode(images)
        out = model.temporal({n: m[None] for n, m in maps.items()})
    assert abs(float(out["va"][0, 0]) - float(ort_out["va"][0, 0])) < 1e-4
    assert np.abs(torch.sigmoid(out["au"]).numpy() - ort_out["au"]).max() < 1e-4
    assert np.abs(out["emi"].numpy() - ort_out["emi"]).max() < 1e-4


@pytest.mark.parametrize(
    "damage",
    [
        "missing_temporal",  # a file of the pair is gone
        "other_config",  # model.json describes another architecture
    ],
)
def test_a_model_folder_that_does_not_fit_gives_one_clear_error(tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), folder)
    if damage == "missing_temporal":
        (folder / "temporal.onnx").unlink()
        match = "temporal.onnx is missing"
    else:
        info = json.loads((folder / "model.json").read_text())
        info["config"]["hidden_dim"] = 64
        (folder / "model.json").write_text(json.dumps(info))
        match = "does not fit"
    with pytest.raises(OnnxImportError, match=match):
        model_from_onnx(folder)


def test_a_graph_with_changed_weights_fails_the_numeric_check(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), folder)
    proto = onnx.load(str(folder / "temporal.onnx"))
    for node in proto.graph.node:  # flip the sign of the valence head's output: same shapes
        if node.op_type == "Tanh":
            node.op_type = "Neg"
    onnx.save(proto, str(folder / "temporal.onnx"))
    with pytest.raises(OnnxImportError, match="differs from them"):
        model_from_onnx(folder)


# ---- recordings ----


def test_recordings_of_each_kind_are_read_and_hashed(tmp_path):
    frames = [np.full((48, 64, 3), v, np.uint8) for v in (10, 200)]
    bag = tmp_path / "bag"
    with BagWriter(bag, storage="sqlite3") as writer:
        for i, frame in enumerate(frames):
            writer.write_image(IMAGE_TOPIC, frame, 1_000 + i)
    images = tmp_path / "images"
    images.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(images / f"{i:03d}.png"), frame)
    for path, kind in ((bag, "bag"), (images, "images")):
        recording = Recording.at(path)
        assert recording.kind == kind
        got = list(recording.frames())
        assert [int(f.mean()) for f in got] == [10, 200]
        assert recording.sha256() == Recording.at(path).sha256()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="is not a recording"):
        Recording.at(empty)


def test_a_changed_file_changes_the_hash(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"one")
    first = Recording.at(folder).sha256()
    (folder / "a.png").write_bytes(b"two")
    assert Recording.at(folder).sha256() != first


# ---- targets from teachings ----


def _probs(top: str) -> list[float]:
    p = np.full(len(CLASSES), 0.02)
    p[CLASSES.index(top)] = 1 - 0.02 * (len(CLASSES) - 1)
    return p.tolist()


def _taught(top: str, mouth: float) -> dict:
    features = dict.fromkeys(FEATURES, 1.0)
    features["mouth_width"] = mouth
    return {"expressions": {"face_api": _probs(top), "human": _probs(top)}, "features": features}


def _tracks() -> dict:
    return {
        # a person who is neutral, then smiles: own neutral
        "r00_f0001": {
            "recording": "x",
            "frames": 6,
            "taught": {"0": _taught("neutral", 1.0), "3": _taught("happy", 1.2)},
        },
        # someone who smiles throughout: the recordings' neutral
        "r00_f0002": {
            "recording": "x",
            "frames": 4,
            "taught": {"0": _taught("happy", 1.4), "2": _taught("happy", 1.4)},
        },
        # a second neutral person with a wider mouth
        "r01_f0001": {"recording": "y", "frames": 4, "taught": {"0": _taught("neutral", 1.1)}},
    }


def test_neutral_is_the_tracks_own_then_the_recordings():
    tracks = _tracks()
    neutral = neutrals(tracks)
    assert neutral["r00_f0001"]["mouth_width"] == pytest.approx(1.0)
    assert neutral["r00_f0002"]["mouth_width"] == pytest.approx(1.05)  # both neutral frames
    assert neutral["r01_f0001"]["mouth_width"] == pytest.approx(1.1)


def test_track_targets_and_masks_cover_only_the_taught_outputs(tmp_path):
    tracks = _tracks()
    neutral = neutrals(tracks)
    scales = au_scales(tracks, neutral)
    video = track_video("r00_f0001", tracks["r00_f0001"], tmp_path, neutral["r00_f0001"], scales)
    au12 = AU_NAMES.index("AU12")
    # AU12 proxies over the taught frames: 0, 0.2 (this track), 0.35, 0.35, 0: the scale is
    # their 90th percentile, 0.35; frames 0-1 hold the neutral teaching, 2-5 the smile
    assert scales["AU12"] == pytest.approx(0.35)
    smile = 0.2 / 0.35
    assert video.labels["au"][:, au12].tolist() == pytest.approx([0, 0, *[smile] * 4])
    assert video.labels["va"][0, 0] < 0 < video.labels["va"][5, 0]
    joy = EMI_NAMES.index("Joy")
    assert video.labels["emi"][5, joy] == pytest.approx(0.88)
    assert video.masks["va"][:, 0].all() and not video.masks["va"][:, 1].any()
    assert {AU_NAMES[i] for i in np.flatnonzero(video.masks["au"][0])} == set(COVERED["au"])
    assert {EMI_NAMES[i] for i in np.flatnonzero(video.masks["emi"][0])} == {"Joy", "Amusement"}
    assert not video.masks["ah"].any()


def test_no_taught_face_is_a_clear_error():
    with pytest.raises(ValueError, match="no face-frame was taught"):
        neutrals({"r00_f0001": {"recording": "x", "frames": 3, "taught": {}}})


@pytest.mark.parametrize(
    ("count", "holdout", "held"),
    [
        (2, 0.25, 1),  # the fewest: one each side
        (8, 0.25, 2),
        (4, 0.9, 3),  # never every track
    ],
)
def test_split_holds_out_whole_tracks(count, holdout, held):
    names = [f"t{i}" for i in range(count)]
    train, out = split_tracks(names, holdout, seed=3)
    assert len(out) == held and not set(train) & set(out)
    assert sorted(train + out) == names
    assert (train, out) == split_tracks(names, holdout, seed=3)


def test_one_track_is_too_few():
    with pytest.raises(ValueError, match="at least two"):
        split_tracks(["t0"], 0.25, seed=0)


# ---- the trainer's fine-tune switches ----


def test_init_weights_and_frozen_norm_statistics(tmp_path):
    root = synth_root(tmp_path / "data", videos=4, frames=16)
    first = Trainer(tiny_config(root, tmp_path / "a", epochs=1))
    start = save_checkpoint(first.model, tmp_path / "start")
    stats = {n: b.clone() for n, b in first.model.named_buffers() if "running" in n}
    trainer = Trainer(
        tiny_config(root, tmp_path / "b", epochs=1, init_weights=str(start), freeze_norm=True),
        train_videos=[column_masks(v) for v in read_videos((str(root),), "Train_Set")],
    )
    for (name, a), b in zip(
        first.model.state_dict().items(), trainer.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    trainer.fit()
    after = dict(trainer.model.named_buffers())
    assert all(torch.equal(stats[n], after[n]) for n in stats)  # BatchNorm stats unchanged
    assert any(
        not torch.equal(a, b)
        for a, b in zip(first.model.parameters(), trainer.model.parameters(), strict=True)
    )


def test_cli_names_a_missing_recording_on_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.cli",
            "adapt",
            "--bag",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("affect-perception adapt: error:")
    assert "nowhere does not exist" in done.stderr
