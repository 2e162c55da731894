"""What the benchmarks ran on: processor, cores, load, library versions."""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Libraries whose versions go into every report.
LIBRARIES = ("onnxruntime", "torch", "timm", "numpy", "opencv-python-headless")


def cpu_description() -> tuple[str, float, set[str]]:
    """Processor model name, current clock in MHz (NaN if unknown) and its flags."""
    text = CPUINFO.read_text() if CPUINFO.exists() else ""

    def field(name: str) -> str:
        match = re.search(rf"^{name}\s*:\s*(.+)$", text, re.MULTILINE)
        return match.group(1).strip() if match else ""

    flags = set((field("flags") or field("Features")).split())
    clock = field("cpu MHz")
    return (
        field("model name") or platform.processor() or "unknown",
        (float(clock) if clock else float("nan")),
        flags,
    )


def available_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info() -> dict[str, object]:
    """Processor, cores, load averages and library versions, JSON-ready."""
    model, clock, _ = cpu_description()
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": model,
        "clock_mhz": clock,
        "cores": available_cores(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
        "versions": versions,
    }
