"""Shared fixtures: a ROS environment kept on loopback and an rclpy context per session."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Discovery on loopback only, a domain of this run's own, logs in a temporary folder; child
# processes inherit all three.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="affect_perception_roslog_"))
# Children import this checkout's sources, not an installed copy.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture(scope="session")
def rclpy_init() -> Iterator[None]:
    """Initialise rclpy's default context once for the test process."""
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="session")
def python() -> str:
    """The interpreter to start child processes with (the venv's, with the ROS re-exec)."""
    return sys.executable


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained single-scale model, window 8, exported once per test session."""
    import torch

    from affect_perception.model.affect_model import AffectModel
    from affect_perception.model.config import ModelConfig
    from affect_perception.model.export import export_onnx
    from affect_perception.provenance import UNTRAINED

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("random_model")
    export_onnx(
        AffectModel(ModelConfig(variant="single", window=8)).eval(), out, taught_on=UNTRAINED
    )
    return out
