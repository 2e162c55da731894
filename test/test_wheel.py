"""A non-editable install (a wheel, as `pip install .` builds it) finds the bundled demo model,
the parameter files and the message definitions without the source tree, and requires what
requirements/runtime.txt says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from affect_perception.resources import bundled_model_dir

ROOT = Path(__file__).resolve().parents[1]
# What setup.py needs to build the wheel.
SOURCES = (
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "README.md",
    "affect_perception",
    "msg",
    "models/demo",
    "config",
    "requirements/runtime.txt",
)

pytestmark = pytest.mark.slow


def test_installed_wheel_finds_the_demo_model_and_the_messages(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "wheel"),
            str(src),
        ],
        check=True,
    )
    shutil.rmtree(src)  # nothing below may read the sources
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    # --ignore-installed: this interpreter has the package already (editable)
    subprocess.run(
        [
            *pip,
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "--prefix",
            str(env_dir),
            str(wheel),
        ],
        check=True,
    )
    python = env_dir / "bin" / "python"
    # the dependencies come from this interpreter's site-packages, after the installed copy
    site = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = (
        "import affect_perception\n"
        "from affect_perception.resources import (bundled_model_dir, dds_profile, msg_dir,"
        " params_file)\n"
        "print(affect_perception.__file__, bundled_model_dir(), msg_dir(), params_file(),"
        " dds_profile(), sep='\\n')"
    )
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # conftest's checkout
    found = subprocess.run(
        [python, "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path, env=clean
    ).stdout.split()
    assert found[0].startswith(site)  # the installed copy, not this checkout
    share = env_dir / "share" / "affect_perception"
    assert found[1:] == [
        str(share / "models" / "demo"),
        str(share / "msg"),
        str(share / "config" / "affect.yaml"),
        str(share / "config" / "fastdds_large_images.xml"),
    ]
    metadata = next(Path(site).glob("affect_perception-*.dist-info")) / "METADATA"
    required = [
        line.split(": ", 1)[1]
        for line in metadata.read_text().splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    ]
    runtime = [
        line
        for line in (ROOT / "requirements" / "runtime.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert {str(Requirement(r)) for r in required} == {str(Requirement(r)) for r in runtime}
    for name in ("encoder.onnx", "temporal.onnx", "model.json"):
        assert (share / "models" / "demo" / name).read_bytes() == (
            bundled_model_dir() / name
        ).read_bytes()
    assert sorted(p.name for p in (share / "msg").iterdir()) == sorted(
        p.name for p in (ROOT / "msg").glob("*.msg")
    )
