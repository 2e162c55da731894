"""Parameter overrides that rcl ignored or rclpy refused, explained in one line each.

rcl drops a ``-p name:=value`` override without a word in some cases: with a parameter file
also given, ``-p max_faces:=abc`` leaves ``max_faces`` at the file's 4. After declaring its
parameters, the node compares each ``-p`` value with the value it got
(:func:`ignored_overrides`) and refuses to start on a mismatch, naming the parameter. An
override rclpy refuses at declaration (a type or a range) is explained by
:func:`refused_reason` from rclpy's error text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from affect_perception.log_values import cut, shown
from affect_perception.serving.settings import BY_NAME

# The flags that start a ROS argument section, end one, and give a parameter.
ROS_ARGS, END_ROS_ARGS = "--ros-args", "--"
PARAM_FLAGS = ("-p", "--param")


def given_overrides(argv: Iterable[str]) -> dict[str, str]:
    """name -> value text of every ``-p name:=value`` in the ``--ros-args`` sections (the last
    one wins, as in rcl); node-targeted ones (``node:name:=value``) are left out."""
    given: dict[str, str] = {}
    inside, words = False, list(argv)
    for index, word in enumerate(words):
        if word == ROS_ARGS:
            inside = True
        elif word == END_ROS_ARGS:
            inside = False
        elif inside and word in PARAM_FLAGS and index + 1 < len(words):
            name, sep, value = words[index + 1].partition(":=")
            if sep and ":" not in name:
                given[name] = value
    return given


def _parsed(text: str) -> Any:
    """The value rcl reads from ``text`` (YAML; numbers such as ``1e3`` that YAML 1.1 keeps as
    strings included)."""
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                pass
    return value


def _same(given: Any, effective: Any) -> bool:
    if isinstance(given, list) and isinstance(effective, (list, tuple)):
        return len(given) == len(effective) and all(map(_same, given, effective))
    if isinstance(given, bool) or isinstance(effective, bool):
        return given is effective
    return given == effective


def ignored_overrides(given: Mapping[str, str], effective: Mapping[str, Any]) -> dict[str, str]:
    """name -> why, for each given override of a parameter in ``effective`` whose value the
    parameter did not get."""
    ignored = {}
    for name, text in given.items():
        if name not in effective:
            continue
        value = _parsed(text)
        if not _same(value, effective[name]):
            ignored[name] = (
                f"the command-line override {shown(text)} was ignored (the node "
                f"got {shown(effective[name])}); give a value of the parameter's "
                "type"
            )
    return ignored


def refused_reason(text: str, name: str) -> str:
    """rclpy's rejection ``text`` of a value declared for ``name`` (a type or a range), without
    its trailing name; a range named as the table writes it."""
    text = text.removesuffix(f": {name}")
    value = re.match(r"Invalid parameter value \((.*)\) for parameter", text)
    if value and BY_NAME[name].range is not None:
        return f"{cut(value.group(1))} is outside {BY_NAME[name].range}"
    return cut(text)
