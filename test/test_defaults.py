"""One source of defaults: the node's parameter table. config/affect.yaml (see also
test_node_parameters), the launch file, `bench` and `eval` take their defaults from it."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import yaml

from affect_perception.bench import cli as bench_cli
from affect_perception.bench.end_to_end import Stream, stream_config
from affect_perception.evaluation import evaluate
from affect_perception.serving.settings import (
    CONFIG_FILE_VALUES,
    build_settings,
    default,
    node_pipeline_config,
)

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "demo"
# launch argument -> the node parameter it sets, and the launch text of the parameter's default
LAUNCH_PARAMETERS = {"compressed": "use_compressed", "auto_activate": "autostart",
                     "model_dir": "model_dir"}


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
    (arguments,) = [ast.literal_eval(node.value) for node in tree.body
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "")
                    == "ARGUMENTS"]
    launch = {name: value for name, value, _ in arguments}
    for argument, parameter in LAUNCH_PARAMETERS.items():
        assert launch[argument] == launch_text(default(parameter)), argument


def test_bench_defaults_are_the_node_defaults() -> None:
    options = parser_defaults(bench_cli)
    assert options["threads"] == default("intra_op_threads")
    assert options["detect_every"] == default("detect_every") == 2
    assert options["temporal_every"] == default("temporal_every")
    assert options["detector_variant"] == default("detector.variant")
    # providers aside (the bench names the CPU; the node tries the GPU's first, then the CPU)
    node = node_pipeline_config(MODEL, providers=["CPUExecutionProvider"])
    assert stream_config(MODEL, Stream()) == node


def test_eval_runs_the_node_defaults() -> None:
    options = parser_defaults(evaluate)
    assert options["threads"] == default("intra_op_threads")
    assert node_pipeline_config(MODEL, intra_op_threads=options["threads"]) == \
        build_settings({"model_dir": str(MODEL)}).pipeline


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
