"""A node parameter file (the ``config/affect.yaml`` layout) read into parameter values, for
the commands that build the node's settings without ROS (``eval``, ``bench``).

The sections that apply are those rcl would give the node: ``/**`` and the node's own name;
nested groups become dotted names (``smoothing: {enabled: true}`` is ``smoothing.enabled``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from affect_perception.cli_errors import InputError, one_line
from affect_perception.serving.settings import NODE_NAME

# Section keys of a parameter file that apply to the node, whatever its namespace.
NODE_SECTIONS = ("/**", NODE_NAME, f"/{NODE_NAME}", f"/**/{NODE_NAME}")


class ParamsFileError(InputError):
    """A parameter file that cannot be read, or has no section for the node."""


def flatten(group: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameter groups as dotted names -> values."""
    flat: dict[str, Any] = {}
    for key, value in group.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_params_file(path: Path) -> dict[str, Any]:
    """Parameter name -> value from the sections of ``path`` that apply to the node (later
    sections win, as in rcl).

    Raises:
        ParamsFileError: the file cannot be read or parsed, or no section applies.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ParamsFileError(f"parameter file {path}: {one_line(err)}") from None
    bodies = [data.get(key) for key in NODE_SECTIONS] if isinstance(data, dict) else []
    sections = [
        body["ros__parameters"]
        for body in bodies
        if isinstance(body, dict) and isinstance(body.get("ros__parameters"), dict)
    ]
    if not sections:
        raise ParamsFileError(
            f"parameter file {path} has no ros__parameters section for "
            f"{' or '.join(NODE_SECTIONS[:2])}"
        )
    values: dict[str, Any] = {}
    for section in sections:
        values.update(flatten(section))
    return values
