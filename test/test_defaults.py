"""One source of defaults: the node's parameter table. config/affect.yaml (see also
test_node_parameters), the launch file, `bench` and `eval` take their defaults from it."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest
import yaml

from affect_perception.bench import cli as bench_cli
from affect_perception.bench.end_to_end import Stream, stream_config
from affect_perception.cli_errors import InputError
from affect_perception.evaluation import evaluate
from affect_perception.serving.params_file import read_params_file
from affect_perception.serving.settings import (
    CONFIG_FILE_VALUES,
    default,
    node_pipeline_config,
)

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "demo"
PARAMS = REPO / "config" / "affect.yaml"
# launch argument -> the node parameter it sets, and the launch text of the parameter's default
LAUNCH_PARAMETERS = {
    "compressed": "use_compressed",
    "auto_activate": "autostart",
    "model_dir": "model_dir",
}


def parser_defaults(module: object) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return vars(parser.parse_args(["--bag", "b", "--report", "r"] if module is evaluate else []))


def launch_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_the_parameter_file_holds_the_table_defaults_but_smoothing() -> None:
    text = (REPO / "config" / "affect.yaml").read_text()
    group = yaml.safe_load(text)["/**"]["ros__parameters"]
    assert group["detect_every"] == default("detect_every")
    assert group["image_reliability"] == default("image_reliability") == "best_available"
    assert CONFIG_FILE_VALUES == {"smoothing.enabled": True}


def test_launch_arguments_default_to_the_node_defaults() -> None:
    tree = ast.parse((REPO / "launch" / "affect.launch.py").read_text())
    (arguments,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS"
    ]
    launch = {name: value for name, value, _ in arguments}
    for argument, parameter in LAUNCH_PARAMETERS.items():
        assert launch[argument] == launch_text(default(parameter)), argument


def bench_params(*flags: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    bench_cli.add_arguments(parser)
    return bench_cli.node_params(parser.parse_args(list(flags)))


NODE_FLAGS = (
    "threads",
    "precision",
    "detect_every",
    "temporal_every",
    "detector_variant",
    "params_file",
)


def test_bench_runs_the_node_defaults_or_its_parameter_file() -> None:
    # no flag sets a default of its own: every value left out is the node's
    options = parser_defaults(bench_cli)
    assert {k: options[k] for k in NODE_FLAGS} == dict.fromkeys(NODE_FLAGS)
    # providers aside (the bench names the CPU; the node tries the GPU's first, then the CPU)
    node = node_pipeline_config(MODEL, providers=["CPUExecutionProvider"])
    assert stream_config(MODEL, Stream(params=bench_params())) == node
    params = bench_params("--params-file", str(PARAMS), "--detect-every", "3")
    # the runs name --providers (default the CPU) over the file's
    config = stream_config(MODEL, Stream(params={**params, "providers": ["CPUExecutionProvider"]}))
    assert config.one_euro is not None and config.detect_every == 3  # the file's, the flag's
    assert config == node_pipeline_config(
        MODEL,
        **{**read_params_file(PARAMS), "providers": ["CPUExecutionProvider"], "detect_every": 3},
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/**:\n  ros__parameters:\n    max_faces: 0\n", "parameter 'max_faces': 0 is outside"),
        ("/**:\n  ros__parameters:\n    no_such: 1\n", "unknown parameter no_such"),
        ("other_node:\n  ros__parameters:\n    max_faces: 2\n", "no ros__parameters section"),
        ("/**: [", "parameter file"),  # not YAML
    ],
)
def test_bench_refuses_a_bad_parameter_file_in_one_line(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(words)):
        bench_params("--params-file", str(path))


def test_eval_flags_default_to_the_node_settings() -> None:
    options = parser_defaults(evaluate)
    assert options["threads"] is None and options["precision"] is None
    assert options["params_file"] is None


def test_the_parameter_file_comments_give_the_table_ranges() -> None:
    """Issue 22, defect 8: the comment said min_sharpness [0, 1e+06]; the table 10000."""
    from affect_perception.serving.settings import BY_NAME

    comments: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the groups around the line
    checked = 0
    for line in (REPO / "config" / "affect.yaml").read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            comments.append(text.lstrip("# "))
            continue
        if ":" not in text:
            comments = []
            continue
        indent, key = len(line) - len(line.lstrip()), text.split(":")[0]
        stack = [(i, k) for i, k in stack if i < indent]
        name = ".".join(k for _, k in stack[2:]) + ("." if len(stack) > 2 else "") + key
        said = re.search(r"range ([\[(][^\])]*[\])])", " ".join(comments))
        if name in BY_NAME and BY_NAME[name].range is not None:
            assert said and said.group(1) == str(BY_NAME[name].range), (name, said)
            checked += 1
        stack.append((indent, key))
        comments = []
    assert checked >= 30
