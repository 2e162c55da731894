"""affect_perception.resources: the package's files in a checkout, and the order and errors of
the lookup (the installed layouts: test_workspace, test_wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from affect_perception import model_files, resources

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_finds_its_own_files_first() -> None:
    assert resources.share_dirs()[0] == REPO
    assert resources.bundled_model_dir() == REPO / "models" / "demo"
    assert resources.params_file() == REPO / "config" / "affect.yaml"
    assert resources.dds_profile() == REPO / "config" / "fastdds_large_images.xml"
    assert resources.msg_dir() == REPO / "msg"


def test_a_folder_without_the_files_is_passed_over(tmp_path: Path, monkeypatch) -> None:
    incomplete, complete = tmp_path / "a", tmp_path / "b"
    (incomplete / "models" / "demo").mkdir(parents=True)
    (incomplete / "models" / "demo" / "encoder.onnx").write_bytes(b"")  # no temporal.onnx
    (complete / "models" / "demo").mkdir(parents=True)
    for name in resources.MODEL_FILES:
        (complete / "models" / "demo" / name).write_bytes(b"")
    monkeypatch.setattr(resources, "share_dirs", lambda: [incomplete, complete])
    assert resources.bundled_model_dir() == complete / "models" / "demo"
    assert model_files.missing_model_files(incomplete / "models" / "demo") == ["temporal.onnx"]


def test_not_found_names_every_place_tried(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(resources, "share_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(resources.ResourceNotFoundError) as err:
        resources.params_file()
    assert str(tmp_path / "a" / "config" / "affect.yaml") in str(err.value)
    assert str(tmp_path / "b" / "config" / "affect.yaml") in str(err.value)
    assert isinstance(err.value, FileNotFoundError)
