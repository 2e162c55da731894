"""Resident memory of a process, now and at its peak, from /proc (Linux)."""

from __future__ import annotations

import os
import re
from pathlib import Path

# /proc/<pid>/status fields: resident set now, and its high-water mark.
RSS_FIELD = "VmRSS"
PEAK_FIELD = "VmHWM"


def _status_kib(pid: int, name: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise OSError(f"/proc/{pid}/status has no {name} line; memory figures need Linux /proc")
    return int(match.group(1))


def rss_mib(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default) in MiB."""
    return _status_kib(pid or os.getpid(), RSS_FIELD) / 1024


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident memory of a process (this one by default) since it started, in MiB."""
    return _status_kib(pid or os.getpid(), PEAK_FIELD) / 1024


def growth(samples_mib: list[float], settle: int) -> float:
    """Relative growth of resident memory: last sample over the first after ``settle``, − 1.

    The first ``settle`` samples (start-up, allocator warm-up) are skipped; 0 when fewer are
    left than two.
    """
    kept = samples_mib[settle:]
    if len(kept) < 2:
        return 0.0
    return kept[-1] / kept[0] - 1.0
