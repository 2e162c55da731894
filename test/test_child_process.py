"""stop_child: signal, wait, and kill a child that does not stop in time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from affect_perception.child_process import stop_child

# A child that reports it is ready, then waits; IGNORE makes it deaf to SIGINT.
CHILD = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def start(mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def test_a_child_that_obeys_the_signal_stops_with_it() -> None:
    assert stop_child(start("obey"), signal.SIGTERM, timeout=10) == -signal.SIGTERM


def test_a_child_that_ignores_the_signal_is_killed_after_the_timeout() -> None:
    started = time.monotonic()
    assert stop_child(start("ignore"), signal.SIGINT, timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_an_exited_child_is_not_signalled() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    assert stop_child(proc) == 3
