"""Where the package's own files are (models/, config/, msg/, launch/), in every install layout.

The one place that knows the layouts:

- a source checkout or the project's editable venv: the repository root (it holds package.xml);
- an installed copy: the nearest ``<prefix>/share/affect_perception`` above the Python package
  (a colcon workspace's ``install/affect_perception/lib/python3.X/site-packages``, a wheel in a
  venv or ``pip install --user``);
- the ament resource index (``ament_index_python``, where present);
- ``<sys.prefix>/share/affect_perception``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from affect_perception.model_files import MODEL_FILES

PACKAGE = "affect_perception"
DEMO_MODEL = "demo"
# Folders above the Python package searched for share/affect_perception
# (site-packages, python3.X, lib, local: Debian's dist-packages layout).
INSTALL_DEPTH = 5
MESSAGES = ("AffectState", "AffectStateArray")
PARAMS_FILE = ("config", "affect.yaml")
DDS_PROFILE = ("config", "fastdds_large_images.xml")


class ResourceNotFoundError(FileNotFoundError):
    """A file of the package is in none of the places it is looked for."""


def share_dirs() -> list[Path]:
    """The folders that may hold the package's files, in the order they are tried."""
    package = Path(__file__).resolve().parent
    found = []
    if (package.parent / "package.xml").is_file():
        found.append(package.parent)  # a source checkout
    for ancestor in package.parents[:INSTALL_DEPTH]:
        if (ancestor / "share" / PACKAGE).is_dir():
            found.append(ancestor / "share" / PACKAGE)
            break
    found += [*_ament_share(), Path(sys.prefix) / "share" / PACKAGE]
    return list(dict.fromkeys(found))


def _ament_share() -> list[Path]:
    """The ament index's share folder of the package, when ament_index_python finds one."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return [Path(get_package_share_directory(PACKAGE))]
    except (ImportError, LookupError, OSError, ValueError):  # absent, not found, no prefix path
        return []


def find(*relative: str, holding: tuple[str, ...] = (), what: str | None = None) -> Path:
    """The first ``<share>/<relative>`` that exists (and holds every name in ``holding``).

    Raises:
        ResourceNotFoundError: naming every place looked in.
    """
    tried = [folder.joinpath(*relative) for folder in share_dirs()]
    for path in tried:
        if path.exists() and all((path / name).is_file() for name in holding):
            return path
    raise ResourceNotFoundError(
        f"{what or '/'.join(relative)} not found in "
        + ", ".join(map(str, tried))
        + "; run scripts/setup.sh, or colcon build and source install/setup.bash"
    )


def bundled_model_dir(name: str = DEMO_MODEL) -> Path:
    """The folder of a model shipped with the package (``models/<name>``)."""
    return find("models", name, holding=MODEL_FILES, what=f"bundled model {name!r}")


def params_file() -> Path:
    """The node's default parameter file, ``config/affect.yaml``."""
    return find(*PARAMS_FILE)


def dds_profile() -> Path:
    """The Fast DDS profile for large images, ``config/fastdds_large_images.xml``."""
    return find(*DDS_PROFILE)


def msg_dir() -> Path:
    """The folder holding the ``.msg`` files."""
    return find("msg", holding=tuple(f"{name}.msg" for name in MESSAGES), what="the .msg files")
