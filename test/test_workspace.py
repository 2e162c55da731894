"""The robot route: this repository as a package in a fresh colcon workspace, built into the
workspace's own install/ (not the venv) against a ROS install (here the venv's ROS wheels, as
/opt/ros/<distro> on a robot), then used from ``install/setup.sh`` with nothing else: the
installed node with the installed parameter file answers frames over loopback, and the
installed command finds the bundled model, parameter file and messages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ros_support import REPO, spin_until

from affect_perception.child_process import stop_child
from affect_perception.synth.scene import render_video

pytestmark = [pytest.mark.ros, pytest.mark.slow]

PACKAGE = "affect_perception"
TOPIC = "/workspace/image"
NODE = "/affect_perception_node"
FPS = 30.0
FRAMES = 45
# Longest waits, seconds: the build, the node's start-up, one command.
BUILD_S = 600
START_S = 60.0
COMMAND_S = 300


def ros_install_env() -> dict[str, str]:
    """The environment after sourcing the ROS install: its prefix in AMENT_PREFIX_PATH and
    CMAKE_PREFIX_PATH and its python first on PATH; nothing of this checkout or of this
    process's start-up (the wheels' bootstrapper sets its library path anew)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "LD_LIBRARY_PATH",
            "COLCON_PREFIX_PATH",
            "_ROS_WHEELS_BOOTSTRAP_COMPLETE",
        )
    }
    env.update(
        AMENT_PREFIX_PATH=sys.prefix,
        CMAKE_PREFIX_PATH=sys.prefix,
        VIRTUAL_ENV=sys.prefix,
        PATH=os.pathsep.join([str(Path(sys.prefix) / "bin"), env.get("PATH", "")]),
    )
    return env


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a copy of this repository's files (tracked and new, as git lists
    them) in src/, built with plain ``colcon build``."""
    ws = tmp_path_factory.mktemp("ws")
    src = ws / "src" / PACKAGE
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    built = subprocess.run(
        ["colcon", "build", "--event-handlers", "console_direct-"],
        cwd=ws,
        env=ros_install_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_S,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return ws


def sourced(ws: Path, command: str) -> list[str]:
    """``command`` run after ``. install/setup.sh``, as a user's shell would."""
    return ["bash", "-c", f"set +u; . '{ws}/install/setup.sh'; exec {command}"]


def run(ws: Path, command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        sourced(ws, command),
        cwd=cwd,
        env=ros_install_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_S,
    )


def start_sourced(ws: Path, command: str, cwd: Path, log_path: Path) -> subprocess.Popen:
    """``command`` started in the background after sourcing, its output in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            sourced(ws, command),
            cwd=cwd,
            env=ros_install_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_install_space_holds_the_executables_and_share_files(workspace: Path) -> None:
    prefix = workspace / "install" / PACKAGE
    for name in ("affect_perception_node", "affect-perception", "hesitancy_cue_node"):
        assert os.access(prefix / "lib" / PACKAGE / name, os.X_OK), name
    share = prefix / "share" / PACKAGE
    for relative in (
        "config/affect.yaml",
        "config/fastdds_large_images.xml",
        "launch/affect.launch.py",
        "models/demo/encoder.onnx",
        "models/demo/temporal.onnx",
        "msg/AffectStateArray.msg",
        "package.xml",
    ):
        assert (share / relative).is_file(), relative


def test_the_installed_package_finds_its_files_in_the_install_space(
    workspace: Path, tmp_path: Path
) -> None:
    probe = (
        "import affect_perception, affect_perception.resources as r; "
        "print(affect_perception.__file__, r.bundled_model_dir(), r.params_file(), "
        "r.msg_dir(), r.dds_profile(), sep='\\n')"
    )
    done = run(workspace, f'python3 -c "{probe}"', tmp_path)
    assert done.returncode == 0, done.stderr
    found = done.stdout.split()
    prefix = workspace / "install" / PACKAGE
    assert found[0].startswith(str(prefix / "lib"))  # the installed copy, not this checkout
    share = prefix / "share" / PACKAGE
    assert found[1:] == [
        str(share / "models" / "demo"),
        str(share / "config" / "affect.yaml"),
        str(share / "msg"),
        str(share / "config" / "fastdds_large_images.xml"),
    ]


def test_installed_commands_run_with_the_bundled_files(workspace: Path, tmp_path: Path) -> None:
    cli = workspace / "install" / PACKAGE / "lib" / PACKAGE / "affect-perception"
    made = run(
        workspace, f"'{cli}' make-bag --synthetic --frames 20 --size 320x240 --out bag", tmp_path
    )
    assert made.returncode == 0, made.stderr
    scored = run(workspace, f"'{cli}' eval --bag bag --report report --all-frames", tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert (tmp_path / "report" / "report.json").is_file()
    shown = run(
        workspace, f"'{cli}' demo --seconds 1 --faces 1 --size 320x240 --out demo", tmp_path
    )
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    share = workspace / "install" / PACKAGE / "share" / PACKAGE
    assert f"model: {share / 'models' / 'demo'}" in shown.stdout
    assert (tmp_path / "demo" / "overlay_strip.png").is_file()


def test_installed_node_with_the_installed_params_answers_frames(
    workspace: Path, tmp_path: Path, rclpy_init: None
) -> None:
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from affect_perception.msg import AffectStateArray
    from affect_perception.ros.conversions import image_message

    prefix = workspace / "install" / PACKAGE
    params = prefix / "share" / PACKAGE / "config" / "affect.yaml"
    command = (
        f"'{prefix / 'lib' / PACKAGE / 'affect_perception_node'}' --ros-args "
        f"--params-file '{params}' -r image:={TOPIC}"
    )
    cue_command = (
        f"'{prefix / 'lib' / PACKAGE / 'hesitancy_cue_node'}' --ros-args -r affect:={NODE}/affect"
    )
    log_path, cue_log = tmp_path / "node.log", tmp_path / "cue.log"
    node, cue = (
        start_sourced(workspace, c, tmp_path, log)
        for c, log in ((command, log_path), (cue_command, cue_log))
    )
    probe = Node("workspace_probe")
    publisher = probe.create_publisher(Image, TOPIC, 10)
    answers: list = []
    probe.create_subscription(AffectStateArray, f"{NODE}/affect", answers.append, 100)
    try:
        assert spin_until(
            probe,
            lambda: node.poll() is not None or (publisher.get_subscription_count() > 0),
            START_S,
        ), log_path.read_text()
        assert node.poll() is None, log_path.read_text()
        due = time.monotonic()
        for index, frame in enumerate(render_video(3, FRAMES, faces=1, size=(320, 240))):
            header = Header(frame_id="camera")
            header.stamp.sec, header.stamp.nanosec = 10 + index // 30, (index % 30) * 33_333_333
            publisher.publish(image_message(frame.image, header))
            due += 1 / FPS
            spin_until(probe, lambda d=due: time.monotonic() >= d, 1.0)
        assert spin_until(probe, lambda: any(a.faces for a in answers), 10.0), log_path.read_text()
        # the installed example behaviour listens to the node too
        assert spin_until(
            probe, lambda: probe.count_subscribers(f"{NODE}/affect") == 2, START_S
        ), cue_log.read_text()
    finally:
        status, cue_status = (stop_child(p, signal.SIGINT, 15.0) for p in (node, cue))
        probe.destroy_node()
    assert (status, cue_status) == (0, 0), log_path.read_text() + cue_log.read_text()
    assert len(answers) >= FRAMES // 2
    assert answers[-1].faces[0].model_id
