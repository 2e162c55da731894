"""The node's parameter table: its defaults match the library and config/affect.yaml, values
are validated with one message naming the parameter, and changes apply to a running pipeline
(smoothing, quality thresholds and the baseline included)."""

from __future__ import annotations

import array
import dataclasses
import re
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import numpy as np
import pytest
import yaml

from affect_perception.labels import AU_NAMES
from affect_perception.ros.descriptors import descriptor
from affect_perception.runtime.baseline import BaselineConfig
from affect_perception.runtime.detection.base import DetectorConfig
from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig
from affect_perception.runtime.quality import QualityConfig
from affect_perception.runtime.smoothing import (
    EmaSmoother,
    GroupSmoother,
    OneEuroConfig,
    OneEuroFilter,
    OneEuroParams,
)
from affect_perception.runtime.tracker import TrackerConfig
from affect_perception.serving.params_file import flatten
from affect_perception.serving.settings import (
    BY_NAME,
    CONFIG_FILE_VALUES,
    PARAMETERS,
    ParameterError,
    Range,
    build_settings,
    check_value,
)

REPO = Path(__file__).resolve().parents[1]
# Dynamic: the thresholds, both smoothings, the quality thresholds and the baseline.
DYNAMIC_GROUPS = ("smoothing.", "quality.", "baseline.")
DYNAMIC = {"au_threshold", "ah_threshold", "ema_alpha", "detector.score_threshold"} | {
    p.name for p in PARAMETERS if p.name.startswith(DYNAMIC_GROUPS)
}


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    """A folder that passes the node's model-file check (the files are not loaded here)."""
    for name in ("encoder.onnx", "temporal.onnx"):
        (tmp_path / name).write_bytes(b"")
    return str(tmp_path)


def test_table_rows_are_unique_described_and_valid() -> None:
    assert len(BY_NAME) == len(PARAMETERS)
    for param in PARAMETERS:
        assert param.description and param.type_name
        param.check(param.default)
    assert {p.name for p in PARAMETERS if p.dynamic} == DYNAMIC
    assert {p.name for p in PARAMETERS if p.startup} == {"autostart"}
    assert {p.name for p in PARAMETERS if p.action} == {"baseline.reset_track"}


def test_defaults_are_the_library_defaults(model_dir: str) -> None:
    settings = build_settings({"model_dir": model_dir})
    # the deliberate differences: a node shares its cores, so one onnxruntime thread, and the
    # detector every other frame (the end-to-end targets at 30 fps, issue 17)
    library = PipelineConfig(model_dir=Path(model_dir), intra_op_threads=1, detect_every=2)
    assert settings.pipeline == library
    assert settings.pipeline.detector == dataclasses.replace(
        DetectorConfig(), max_faces=library.max_faces
    )
    assert settings.pipeline.tracker == TrackerConfig()
    assert settings.pipeline.quality == QualityConfig()
    assert settings.pipeline.baseline == BaselineConfig() and not BaselineConfig().enabled
    assert settings.pipeline.one_euro is None  # off unless config/affect.yaml turns it on
    assert (
        settings.autostart,
        settings.use_compressed,
        settings.qos_depth,
        settings.image_reliability,
        settings.publish_per_face,
        settings.publish_overlay,
    ) == (True, False, 1, "best_available", False, False)


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"ema_alpha": 0.0}, "ema_alpha", None),  # 0 switches smoothing off
        ({"ema_alpha": 0.3}, "ema_alpha", 0.3),
        ({"au_threshold": [0.4]}, "au_threshold", 0.4),  # one value for every AU
        ({"au_threshold": [0.4] * 12}, "au_threshold", (0.4,) * 12),
        ({"providers": ["CPUExecutionProvider"]}, "providers", ("CPUExecutionProvider",)),
        ({"detect_every": 3}, "detect_every", 3),
        ({"precision": "int8"}, "precision", "int8"),
        ({"smoothing.enabled": True}, "one_euro", OneEuroConfig()),
        (
            {"smoothing.enabled": True, "smoothing.au.beta": 0.0, "smoothing.emi.min_cutoff": 2.0},
            "one_euro",
            OneEuroConfig(au=OneEuroParams(1.5, 0.0, 1.0), emi=OneEuroParams(2.0, 1.0, 1.0)),
        ),
        ({"smoothing.va.beta": 3.0}, "one_euro", None),  # settings kept, smoothing off
        (
            {"quality.min_face_size": 64.0, "quality.min_real_frames": 8},
            "quality",
            QualityConfig(min_face_size=64.0, min_real_frames=8),
        ),
        (
            {"baseline.enabled": True, "baseline.min_frames": 5},
            "baseline",
            BaselineConfig(enabled=True, min_frames=5),
        ),
        ({"baseline.reset_track": "f0001"}, "baseline", BaselineConfig()),  # an action, no setting
    ],
)
def test_values_reach_the_pipeline_config(
    model_dir: str, values: dict, field: str, expected: object
) -> None:
    config = build_settings({"model_dir": model_dir, **values}).pipeline
    assert getattr(config, field) == expected


def test_dotted_names_fill_the_detector_and_tracker(model_dir: str) -> None:
    config = build_settings(
        {
            "model_dir": model_dir,
            "detector.variant": "front",
            "detector.model_path": "",
            "tracker.n_init": 5,
        }
    ).pipeline
    assert config.detector.variant == "front" and config.detector.model_path is None
    assert config.tracker.n_init == 5


@pytest.mark.parametrize(
    ("values", "expectation"),
    [
        ({}, does_not_raise()),
        (
            {"ah_threshold": 1.0},
            pytest.raises(
                ParameterError, match=re.escape("parameter 'ah_threshold': 1.0 is outside (0, 1)")
            ),
        ),  # open bound
        ({"ah_threshold": float("nan")}, pytest.raises(ParameterError, match="ah_threshold")),
        (
            {"au_threshold": [0.5, 0.5]},
            pytest.raises(
                ParameterError,
                match=re.escape("parameter 'au_threshold': needs 1 or 12 values, got 2"),
            ),
        ),
        (
            {"au_threshold": [0.5] * 11 + [0.0]},
            pytest.raises(
                ParameterError, match=re.escape("parameter 'au_threshold': 0.0 is outside (0, 1)")
            ),
        ),  # one element of 12
        ({"detect_every": 0}, pytest.raises(ParameterError, match="'detect_every': 0 is outside")),
        (
            {"detector.variant": "side"},
            pytest.raises(
                ParameterError,
                match=re.escape("parameter 'detector.variant': 'side' is not one of back, front"),
            ),
        ),
        ({"tracker.beta": 1.0}, pytest.raises(ParameterError, match="'tracker.beta'")),
        ({"tracker.speed": 1.0}, pytest.raises(ParameterError, match="'tracker.speed': unknown")),
        (
            {"smoothing.enabled": True, "ema_alpha": 0.3},
            pytest.raises(
                ParameterError,
                match=(
                    "parameter 'ema_alpha': 0.3 while smoothing.enabled is true; "
                    "choose one smoothing"
                ),
            ),
        ),
        ({"ema_alpha": 0.3}, does_not_raise()),  # EMA alone is fine
        (
            {"smoothing.va.min_cutoff": 0.0},
            pytest.raises(
                ParameterError,
                match=re.escape("parameter 'smoothing.va.min_cutoff': 0.0 is outside (0, 100]"),
            ),
        ),
        (
            {"quality.min_frontalness": 1.5},
            pytest.raises(
                ParameterError,
                match=re.escape("parameter 'quality.min_frontalness': 1.5 is outside [0, 1]"),
            ),
        ),
        (
            {"baseline.min_frames": 400},
            pytest.raises(
                ParameterError,
                match=re.escape(
                    "parameter 'baseline.*': baseline needs 1 <= min_frames <= max_frames"
                ),
            ),
        ),
    ],
)
def test_validation_names_the_parameter(model_dir: str, values: dict, expectation) -> None:
    with expectation:
        build_settings({"model_dir": model_dir, **values})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("/nonexistent/model", "parameter 'model_dir': /nonexistent/model lacks encoder.onnx"),
        ("", "parameter 'model_dir': empty, and bundled model"),  # no bundled model in a test
    ],
)
def test_a_missing_model_names_model_dir(model: str, message: str, monkeypatch) -> None:
    import affect_perception.serving.settings as parameters

    def no_bundled_model() -> Path:
        raise FileNotFoundError("bundled model 'demo' not found")

    monkeypatch.setattr(parameters, "bundled_model_dir", no_bundled_model)
    with pytest.raises(ParameterError, match=re.escape(message)):
        build_settings({"model_dir": model})


@pytest.mark.parametrize(
    ("range_", "inside", "outside"),
    [
        (Range(0, 1), [0, 0.5, 1], [-0.1, 1.1, float("nan"), float("inf")]),
        (Range(0, 1, low_open=True, high_open=True), [0.001, 0.999], [0, 1]),
        (Range(0, 1, high_open=True), [0], [1]),
    ],
)
def test_range_bounds(range_: Range, inside: list, outside: list) -> None:
    assert all(v in range_ for v in inside)
    assert not any(v in range_ for v in outside)


def test_check_value_checks_one_row_with_ros_arrays() -> None:
    assert check_value("au_threshold", array.array("d", [0.4])) == 0.4
    with pytest.raises(ParameterError, match="'qos_depth': 0 is outside"):
        check_value("qos_depth", 0)


def test_descriptors_carry_description_range_and_read_only() -> None:
    by_name = {p.name: descriptor(p) for p in PARAMETERS}
    # static parameters may change while the node is unconfigured: only start-up ones are
    # read-only (the node itself refuses static changes while configured)
    assert not by_name["ah_threshold"].read_only and not by_name["use_compressed"].read_only
    assert by_name["autostart"].read_only
    assert "static: changes only while the node is unconfigured" in (
        by_name["use_compressed"].description
    )
    assert "static" not in by_name["ah_threshold"].description
    assert by_name["ah_threshold"].floating_point_range[0].to_value == 1.0
    assert "(0, 1)" in by_name["ah_threshold"].description  # open ends said in words
    assert by_name["detect_every"].integer_range[0].from_value == 1
    assert "back, front" in by_name["detector.variant"].additional_constraints
    assert all(d.description for d in by_name.values())


def test_config_yaml_lists_every_parameter_with_its_default_and_a_comment() -> None:
    text = (REPO / "config" / "affect.yaml").read_text()
    values = flatten(yaml.safe_load(text)["/**"]["ros__parameters"])
    assert CONFIG_FILE_VALUES == {"smoothing.enabled": True}  # the robot's choice, see below
    assert values == {p.name: CONFIG_FILE_VALUES.get(p.name, p.default) for p in PARAMETERS}
    for name, value in values.items():
        assert type(value) is type(BY_NAME[name].default), name  # e.g. 0.0, not 0, for doubles
    comments = yaml_comments(text)
    assert set(comments) == set(BY_NAME)
    for param in PARAMETERS:
        assert comments[param.name], f"{param.name} has no comment"
        assert ("(dynamic)" in comments[param.name]) == param.dynamic, param.name


def yaml_comments(text: str) -> dict[str, str]:
    """Parameter name (dotted through nested groups) -> the comment lines right above it in a
    ros__parameters file."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    groups: list[tuple[int, str]] = []  # (indent, name) of the groups around the line
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# "))
            continue
        key = re.match(r"(\s*)([\w/*]+):(.*)", line)
        if key and len(key.group(1)) >= 4:  # below ros__parameters
            indent, name, value = len(key.group(1)), key.group(2), key.group(3).strip()
            groups = [(i, g) for i, g in groups if i < indent]
            if not value:
                groups.append((indent, name))
            else:
                comments[".".join([g for _, g in groups] + [name])] = " ".join(pending)
        pending = []
    return comments


def test_dynamic_changes_apply_to_a_running_pipeline(random_model_dir: Path) -> None:
    from affect_perception.synth.scene import render_video

    old = build_settings({"model_dir": str(random_model_dir), "intra_op_threads": 1})
    pipeline = AffectPipeline(old.pipeline)
    frames = [f.image for f in render_video(1, 6, faces=1, size=(320, 240))]
    for k, rgb in enumerate(frames[:5]):
        result = pipeline.process(rgb, k / 30)
    assert len(result.faces) == 1
    detector = pipeline.detector
    new = build_settings(
        {
            **old.values,
            "au_threshold": [1e-6] * len(AU_NAMES),
            "ah_threshold": 1e-6,
            "ema_alpha": 0.5,
            "detector.score_threshold": 0.6,
            "quality.min_face_size": 1e4,
            "baseline.enabled": True,
        }
    )
    pipeline.reconfigure(new.pipeline)
    assert pipeline.detector is not detector
    assert pipeline.detector.config.score_threshold == 0.6
    assert isinstance(pipeline.smoother, EmaSmoother) and pipeline.smoother.alpha == 0.5
    assert pipeline.baseline.config.enabled
    result = pipeline.process(frames[5], 5 / 30)
    assert np.all(result.faces.data["au_active"]) and np.all(result.faces.data["ah"])
    assert not np.any(result.faces.data["reliable"])  # no face is 10,000 pixels tall
    one_euro = build_settings(
        {**new.values, "ema_alpha": 0.0, "smoothing.enabled": True, "smoothing.va.min_cutoff": 3.0}
    )
    pipeline.reconfigure(one_euro.pipeline)
    assert isinstance(pipeline.smoother, GroupSmoother)
    va = pipeline.smoother.smoothers["va"]
    assert isinstance(va, OneEuroFilter) and va.params.min_cutoff == 3.0
    off = build_settings({**one_euro.values, "smoothing.enabled": False})
    pipeline.reconfigure(off.pipeline)
    assert pipeline.smoother is None


def test_docs_list_every_parameter_with_type_default_and_range() -> None:
    text = (REPO / "docs" / "NODE.md").read_text()
    section = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = {
        m[0]: m[1:]
        for m in re.findall(
            r"^\| `([\w.]+)` \| ([\w\[\]]+) \| `([^`]*)` \| ([^|]*) \|", section, flags=re.M
        )
    }
    assert set(rows) == set(BY_NAME)
    for param in PARAMETERS:
        type_name, default, range_text = rows[param.name]
        assert type_name == param.type_name, param.name
        assert yaml.safe_load(default) == param.default, param.name
        if param.range is not None:
            assert str(param.range) in range_text, param.name
