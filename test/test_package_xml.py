"""package.xml parses and declares every ROS package the code imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[1]
# ROS packages the code may import that cannot be installed here (no PyPI wheel).
NOT_INSTALLABLE_HERE = {"launch", "launch_ros", "ament_index_python"}
CODE_DIRS = ("affect_perception", "launch", "examples")


def ros_packages_on_this_machine() -> set[str]:
    """Names of the ROS packages installed in this environment's prefix."""
    share = Path(sys.prefix) / "share"
    return {p.parent.name for p in share.glob("*/package.xml")} | NOT_INSTALLABLE_HERE


def imported_top_level_modules() -> dict[str, set[Path]]:
    """Top-level module names imported anywhere in the package's code, with where."""
    found: dict[str, set[Path]] = {}
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(path.relative_to(REPO))
    return found


def test_package_xml_parses_as_format_3_ament_cmake() -> None:
    package = parse_package(str(REPO / "package.xml"))
    package.validate()
    assert package.name == "affect_perception"
    assert package.package_format == 3
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [g.name for g in package.member_of_groups]


def test_every_imported_ros_package_is_declared() -> None:
    package = parse_package(str(REPO / "package.xml"))
    declared = {
        d.name
        for d in package.build_depends
        + package.exec_depends
        + package.buildtool_depends
        + package.test_depends
    }
    ros = ros_packages_on_this_machine()
    imported = imported_top_level_modules()
    assert "rclpy" in ros and "sensor_msgs" in ros  # the scan sees the ROS prefix
    missing = {
        name: sorted(map(str, where))
        for name, where in imported.items()
        if name in ros and name != package.name and name not in declared
    }
    assert not missing, f"imported but not in package.xml: {missing}"
