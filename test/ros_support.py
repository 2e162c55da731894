"""Helpers for tests that run real ROS 2 processes over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from affect_perception.child_process import stop_child

REPO = Path(__file__).resolve().parents[1]


def start_process(
    args: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a child Python process (``python args...``) writing stdout and stderr to a file;
    ``env`` adds to (or replaces) this process's environment."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed by stop_process
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
    """Send a signal, wait for the exit and return the exit code (kills after the timeout)."""
    status = stop_child(proc, sig, timeout)
    proc.log_file.close()  # type: ignore[attr-defined]
    return status


def spin_until(
    node: object, condition: Callable[[], bool], timeout: float, executor: object | None = None
) -> bool:
    """Spin ``node`` until ``condition()`` holds or the timeout passes; return whether it held."""
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if executor is not None:
            executor.spin_once(timeout_sec=0.05)
        else:
            rclpy.spin_once(node, timeout_sec=0.05)
    return condition()
