"""The affect-perception command line dispatches to its subcommands."""

from __future__ import annotations

import subprocess
import sys

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
    result = subprocess.run([sys.executable, "-m", "affect_perception.cli", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "score" in result.stdout
