"""launch/affect.launch.py, checked without `launch` (not installable here): it parses, runs
against stand-in launch classes, names the installed executable and installed files, and
declares the arguments docs/NODE.md documents."""

from __future__ import annotations

import ast
import configparser
import os
import re
import runpy
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "affect.launch.py"
SHARE = Path(sys.prefix) / "share" / "affect_perception"
SETUP_HINT = "run scripts/setup.sh (make test does) to install launch/ and config/"


def constants() -> dict[str, object]:
    """The launch file's module-level literal constants."""
    tree = ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


class Recorded:
    """Stands in for a launch class: keeps its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other) and self.args == other.args and self.kwargs == other.kwargs
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.args}{self.kwargs}"


@pytest.fixture
def described(monkeypatch) -> list:
    """generate_launch_description() run against stand-ins; the list it returns."""
    classes = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "SetEnvironmentVariable"],
        "launch.conditions": ["IfCondition"],
        "launch.substitutions": ["LaunchConfiguration", "PathJoinSubstitution"],
        "launch_ros.actions": ["Node"],
        "launch_ros.substitutions": ["FindPackageShare"],
    }
    for module_name, names in classes.items():
        module = types.ModuleType(module_name)
        for name in names:
            setattr(module, name, type(name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.setitem(sys.modules, "launch_ros", types.ModuleType("launch_ros"))
    description = runpy.run_path(str(LAUNCH_FILE))["generate_launch_description"]()
    (entities,) = description.args
    return entities


def by_type(entities: list, name: str) -> list:
    return [e for e in entities if type(e).__name__ == name]


def launch_config(name: str) -> Recorded:
    return sys.modules["launch.substitutions"].LaunchConfiguration(name)


def test_launch_file_is_python_with_a_generate_function() -> None:
    tree = ast.parse(LAUNCH_FILE.read_text())
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "generate_launch_description" in functions


def test_declared_arguments_are_the_table(described: list) -> None:
    declared = by_type(described, "DeclareLaunchArgument")
    table = constants()["ARGUMENTS"]
    assert [d.args[0] for d in declared] == [name for name, _, _ in table]
    assert {
        "image",
        "compressed",
        "params_file",
        "model_dir",
        "namespace",
        "log_level",
        "auto_activate",
        "large_images_profile",
    } <= {d.args[0] for d in declared}
    assert all(d.kwargs["description"] for d in declared)


def test_default_params_file_is_config_affect_yaml_of_the_package_share(described: list) -> None:
    (params,) = [
        d for d in by_type(described, "DeclareLaunchArgument") if d.args[0] == "params_file"
    ]
    join = params.kwargs["default_value"]
    assert type(join).__name__ == "PathJoinSubstitution"
    share, *parts = join.args[0]
    assert type(share).__name__ == "FindPackageShare" and share.args == ("affect_perception",)
    assert parts == ["config", "affect.yaml"]
    assert (REPO / Path(*parts)).is_file()


def test_node_runs_the_installed_executable_with_params_remaps_and_log_level(
    described: list,
) -> None:
    (node,) = by_type(described, "Node")
    kw = node.kwargs
    assert (kw["package"], kw["executable"]) == ("affect_perception", "affect_perception_node")
    assert kw["parameters"] == [
        launch_config("params_file"),
        {
            "model_dir": launch_config("model_dir"),
            "use_compressed": launch_config("compressed"),
            "autostart": launch_config("auto_activate"),
        },
    ]
    image = launch_config("image")
    assert kw["remappings"] == [("image", image), ("image/compressed", [image, "/compressed"])]
    assert kw["namespace"] == launch_config("namespace")
    assert kw["arguments"] == ["--ros-args", "--log-level", launch_config("log_level")]


def test_the_large_images_profile_is_set_for_what_it_launches_unless_turned_off(
    described: list,
) -> None:
    (profile,) = by_type(described, "SetEnvironmentVariable")
    name, value = profile.args
    assert name == "FASTRTPS_DEFAULT_PROFILES_FILE"
    share, *parts = value.args[0]
    assert share.args == ("affect_perception",) and (REPO / Path(*parts)).is_file()
    assert profile.kwargs["condition"].args == (launch_config("large_images_profile"),)
    assert described.index(profile) < len(described) - 1  # before the node
    assert type(described[-1]).__name__ == "Node"


def test_executable_is_a_console_script_and_a_ros2_run_launcher() -> None:
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"]
    assert "affect_perception_node = affect_perception.ros.node:main" in scripts
    launcher = REPO / "scripts" / "affect_perception_node"
    assert os.access(launcher, os.X_OK)
    assert "from affect_perception.ros.node import main" in launcher.read_text()
    installed = Path(sys.prefix) / "lib" / "affect_perception" / "affect_perception_node"
    assert installed.is_file(), f"{installed} missing; {SETUP_HINT}"


@pytest.mark.parametrize("relative", ["config/affect.yaml", "launch/affect.launch.py"])
def test_share_files_are_installed(relative: str) -> None:
    assert (REPO / relative).is_file()
    installed = SHARE / relative
    assert installed.is_file(), f"{installed} missing; {SETUP_HINT}"


def test_docs_document_every_launch_argument_with_its_default() -> None:
    text = (REPO / "docs" / "NODE.md").read_text()
    section = text.split("## Launch file", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| `?([^|`]*)`? \|", section, flags=re.M))
    table = constants()["ARGUMENTS"]
    assert set(rows) == {name for name, _, _ in table}
    for name, default, _ in table:
        if name != "params_file":  # documented as the installed path
            assert rows[name] == default, name
