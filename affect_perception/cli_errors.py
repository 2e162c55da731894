"""Command-line input errors: one line on stderr and exit status 2, for every subcommand.

A subcommand raises :class:`InputError` (or a subclass) for an input it cannot use; the
``affect-perception`` entry point prints ``affect-perception <command>: error: <message>`` as
one line and exits with :data:`EXIT_INPUT`. An optional dependency that is not installed is
reported the same way, naming the extra that installs it (:func:`missing_dependency`).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from affect_perception.model_files import missing_model_files

EXIT_INPUT = 2
DISTRIBUTION = "affect_perception"
# Import names whose distribution is named differently.
DISTRIBUTIONS = {"cv2": "opencv-python-headless", "yaml": "PyYAML", "skimage": "scikit-image"}
# The extra a command's optional dependencies come from, when several extras hold one.
COMMAND_EXTRAS = {
    "eval": "eval",
    "make-bag": "eval",
    "bench": "eval",
    "train": "train",
    "pretrain": "train",
    "export": "train",
    "import-weights": "train",
    "realcheck": "eval",
}


class InputError(ValueError):
    """An input the command cannot use; the message says what to do."""


def one_line(err: BaseException) -> str:
    """The error's message on one line."""
    return " ".join(str(err).split())


def output_folder(path: Path, option: str) -> Path:
    """``path`` for an output folder option: new or an existing folder, never a file."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file; give a folder (new or existing)")
    return path


def existing_path(path: Path, option: str) -> Path:
    """``path`` for an input option: it must exist."""
    if not path.exists():
        raise InputError(f"{option} {path} does not exist")
    return path


def model_folder(path: Path, option: str) -> Path:
    """``path`` for a model folder option: a folder made by ``affect-perception export``."""
    if not path.is_dir():
        raise InputError(
            f"{option} {path} is not a folder; pass a model folder made by "
            "`affect-perception export`"
        )
    missing = missing_model_files(path)
    if missing:
        raise InputError(
            f"{option} {path} lacks {', '.join(missing)}; pass a model folder "
            "made by `affect-perception export`"
        )
    return path


def missing_dependency(command: str, err: ModuleNotFoundError) -> InputError | None:
    """The one-line error for an optional dependency that is not installed; None when the
    missing module is this package's own (a bug, not an input problem)."""
    module = (err.name or "").split(".")[0]
    if not module or module == DISTRIBUTION:
        return None
    name = DISTRIBUTIONS.get(module, module)
    extras = _extras_providing(name)
    if extras:
        extra = COMMAND_EXTRAS.get(command) if COMMAND_EXTRAS.get(command) in extras else extras[0]
        how = f"pip install '{DISTRIBUTION}[{extra}]'"
    else:
        how = f"pip install {name} (requirements/*.txt of the repository list each extra)"
    return InputError(f"needs the Python package {name!r}, which is not installed: {how}")


def _extras_providing(name: str) -> list[str]:
    """The package's extras that require distribution ``name`` (none known: empty)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    wanted = _normal(name)
    found = []
    for line in requires:
        match = re.match(r"\s*([A-Za-z0-9_.-]+).*extra\s*==\s*['\"]([\w-]+)['\"]", line)
        if match and _normal(match.group(1)) == wanted:
            found.append(match.group(2))
    return sorted(set(found))


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
