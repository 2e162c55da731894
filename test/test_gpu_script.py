"""bench/gpu.sh on a machine without a GPU: its syntax, its one-line refusals (no GPU, no GPU
venv, a missing provider, bad options) and the CPU column it runs with --cpu-only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from affect_perception.bench import gpu

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu.sh"


def fake_nvidia_smi(folder: Path, found: bool) -> dict[str, str]:
    """An environment whose nvidia-smi finds a GPU or none."""
    tool = folder / "nvidia-smi"
    tool.write_text("#!/bin/sh\n" + ("echo 'GPU 0: Fake'\n" if found else "exit 9\n"))
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def script(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_syntax_and_help() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    done = script("--help")
    assert done.returncode == 0 and "--cpu-only" in done.stdout


def test_no_gpu_is_one_clear_line(tmp_path: Path) -> None:
    done = script(env=fake_nvidia_smi(tmp_path, found=False))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi finds none); bench/gpu.sh --cpu-only "
        "runs the CPU column, .venv/bin/affect-perception bench the CPU figures"
    ]


def test_missing_gpu_venv_says_to_set_it_up(tmp_path: Path) -> None:
    env = {**fake_nvidia_smi(tmp_path, found=True), "GPU_VENV": str(tmp_path / "none")}
    done = script(env=env)
    assert done.returncode == 1
    assert "run bench/gpu.sh --setup first" in done.stderr and done.stdout == ""


def test_missing_provider_is_named() -> None:
    with pytest.raises(gpu.ProviderError, match="TensorrtExecutionProvider is not available"):
        gpu.check_providers(["cpu", "tensorrt"], ["CPUExecutionProvider"])
    gpu.check_providers(["cpu", "cuda"], ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_bad_options_are_refused(tmp_path: Path) -> None:
    done = script(
        "--cpu-only", "--seconds", "1", env={**os.environ, "GPU_BENCH_CACHE": str(tmp_path)}
    )
    assert done.returncode == 2 and "--seconds must exceed" in done.stderr


def test_cpu_only_prints_the_cpu_column(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "GPU_BENCH_CACHE": str(tmp_path / "cache")}
    done = script(
        "--cpu-only", "--seconds", "3", "--repeats", "2", "--json", str(out), env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.strip().splitlines()}
    assert rows["figure"] == ["cpu"]
    for figure in (
        "faces_per_s_b1",
        "faces_per_s_b4",
        "faces_per_s_b16",
        "e2e_fps_1",
        "e2e_fps_4",
    ):
        assert float(rows[figure][0]) > 0, figure
    results = json.loads(out.read_text())["results"]["cpu"]
    assert results["provider"] == "CPUExecutionProvider"
    assert (tmp_path / "cache" / "model_w8" / "model.json").is_file()  # kept for the next run
