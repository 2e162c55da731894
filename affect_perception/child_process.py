"""Stopping a child process (the node, in the demo, the replay and the soak) the same way."""

from __future__ import annotations

import signal
import subprocess


def stop_child(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
    """Send ``sig`` unless the child has exited, wait up to ``timeout`` seconds, kill it if it
    is still running then, and return its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
