"""The affect-perception command line dispatches to its subcommands; every input problem seen
so far ends in one line on stderr and exit status 2, and the node's --help starts nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from affect_perception import cli


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert name in out


def test_unknown_subcommand_is_an_error() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2


def test_console_script_runs_as_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "affect_perception.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "score" in result.stdout


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; it must exit 2 with exactly one line on stderr, returned."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"affect-perception {argv[0]}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_eval_report_on_an_existing_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "report").write_text("")
    line = one_line_error(
        capsys, ["eval", "--bag", str(tmp_path / "bag"), "--report", str(tmp_path / "report")]
    )
    assert "--report" in line and "is a file" in line


def test_eval_labels_on_a_missing_path(tmp_path: Path, capsys) -> None:
    line = one_line_error(
        capsys,
        [
            "eval",
            "--bag",
            str(tmp_path / "bag"),
            "--report",
            str(tmp_path / "out"),
            "--labels",
            str(tmp_path / "VA"),
        ],
    )
    assert f"--labels {tmp_path / 'VA'} does not exist" in line


def test_synth_out_on_a_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "data").write_text("")
    line = one_line_error(
        capsys, ["synth", "--out", str(tmp_path / "data"), "--videos", "1", "--frames", "2"]
    )
    assert "--out" in line and "is a file" in line


@pytest.mark.parametrize("model", ["missing", "empty"])
def test_bench_soak_with_a_bad_model_folder(tmp_path: Path, capsys, model: str) -> None:
    (tmp_path / "empty").mkdir()
    line = one_line_error(capsys, ["bench", "--soak", "0.1", "--model-dir", str(tmp_path / model)])
    assert "--model-dir" in line and "affect-perception export" in line


def test_demo_model_on_a_missing_folder_renders_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    line = one_line_error(capsys, ["demo", "--model", str(tmp_path / "nope"), "--out", str(out)])
    assert "--model" in line and "is not a folder" in line
    assert not out.exists()


def test_a_missing_optional_dependency_names_its_extra(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    monkeypatch.delitem(sys.modules, "affect_perception.evaluation.evaluate", raising=False)
    line = one_line_error(capsys, ["eval", "--help"])
    assert "'tqdm'" in line and "pip install 'affect_perception[eval]'" in line


def test_node_help_prints_the_usage_and_starts_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "affect_perception.ros.node", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: affect_perception_node")
    assert 'image_reliability (string, default "best_available")' in result.stdout
    assert "configured" not in result.stdout + result.stderr
