"""The user's recordings: rosbag2 folders (MCAP or sqlite3, raw or compressed images), folders
of images, or video files, read as RGB frames, each named by its content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect_perception.evaluation.bag_io import choose_image_topic, read_frames
from affect_perception.evaluation.make_bag import IMAGE_SUFFIXES, image_frames, video_frames

# A rosbag2 folder holds this file.
BAG_METADATA = "metadata.yaml"
# Bytes read at a time when hashing.
CHUNK = 1 << 20


@dataclass(frozen=True)
class Recording:
    """One recording and what kind it is (``bag``, ``images`` or ``video``)."""

    path: Path
    kind: str

    @classmethod
    def at(cls, path: str | Path) -> Recording:
        """The recording at ``path``; ValueError naming what is accepted if it is none."""
        path = Path(path)
        if (path / BAG_METADATA).is_file():
            return cls(path, "bag")
        if path.is_dir():
            if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
                return cls(path, "images")
        elif path.is_file():
            return cls(path, "video")
        raise ValueError(
            f"{path} is not a recording: give a rosbag2 folder (with "
            f"{BAG_METADATA}), a folder of .jpg/.png images or a video file"
        )

    def files(self) -> list[Path]:
        """The files whose content makes up the recording, in a fixed order."""
        if self.path.is_file():
            return [self.path]
        return sorted(p for p in self.path.rglob("*") if p.is_file())

    def sha256(self) -> str:
        """Hash of every file's path (relative to the recording) and content."""
        digest = hashlib.sha256()
        for file in self.files():
            digest.update(
                str(file.relative_to(self.path) if file != self.path else file.name).encode()
            )
            with open(file, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        return digest.hexdigest()

    def frames(self, topic: str | None = None) -> Iterator[np.ndarray]:
        """Its frames as (H, W, 3) uint8 RGB, in recording order (a bag: its only image
        topic, or ``topic``)."""
        if self.kind == "bag":
            name, _, _ = choose_image_topic(self.path, topic)
            for frame in read_frames(self.path, name):
                yield frame.decode()
        elif self.kind == "images":
            yield from (rgb for rgb, _, _ in image_frames(self.path, None, None))
        else:
            yield from (rgb for rgb, _, _ in video_frames(self.path, None, None))
