"""Face tracks of the user's recordings, with what the teachers say about their frames.

Each recording goes through the runtime's own detector and tracker (a fresh tracker per
recording); each confirmed face of a frame is cropped as the runtime crops it for the encoder
(`align_faces` at the model's input size) and written as the next frame of its track, and
every ``teach_every``-th face-frame of a track also goes to the teachers (all views averaged,
see `teachers.ensemble`). The result is a data folder: ``cropped_aligned/<track>/00001.jpg``
... (a track's face-frames, numbered without gaps) and ``teachings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from affect_perception.adapt.recordings import Recording
from affect_perception.realfaces.teachers.ensemble import Teachers, roll_degrees
from affect_perception.runtime.alignment import align_faces
from affect_perception.runtime.detection.base import DetectorConfig, build_detector
from affect_perception.runtime.tracker import FaceTracker, TrackerConfig
from affect_perception.synth.dataset import CROPS_DIR, JPEG_QUALITY

TEACHINGS_FILE = "teachings.json"
FRAME_NAME = "{:05d}.jpg"


@dataclass(frozen=True)
class CollectConfig:
    """How faces are found and taught.

    Attributes:
        input_size: crop side (the model's input size).
        teach_every: teach every k-th face-frame of a track (the teachers take about 0.1 s
            per face-frame on one core; frames between hold the nearest taught frame's
            targets).
        detector: detector settings (the runtime's defaults unless changed).
        tracker: tracker settings (the runtime's defaults).
        topic: image topic of the bags (None: each bag's only image topic).
        progress: tqdm bars.
    """

    input_size: int
    teach_every: int = 3
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    topic: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.teach_every < 1:
            raise ValueError(f"teach_every must be at least 1, got {self.teach_every}")


def _teaching_record(teaching: Any) -> dict[str, Any]:
    return {
        "expressions": {k: [float(x) for x in v] for k, v in teaching.expressions.items()},
        "features": teaching.features,
    }


def collect(
    recordings: Sequence[Recording],
    hashes: Sequence[str],
    out: Path,
    config: CollectConfig,
    teachers: Teachers,
) -> dict[str, Any]:
    """Write the tracks of ``recordings`` and their teachings under ``out`` (see module
    docstring); returns the teachings record, also written to ``out/teachings.json``:
    ``{"tracks": {name: {"recording": sha256, "frames": n, "taught": {frame: {...}}}}}``
    with frames numbered from 0."""
    detector = build_detector(config.detector)
    tracks: dict[str, dict[str, Any]] = {}
    for index, (recording, sha) in enumerate(zip(recordings, hashes, strict=True)):
        tracker = FaceTracker(config.tracker)
        frames = tqdm(
            recording.frames(config.topic),
            desc=f"faces in {recording.path.name}",
            unit="frame",
            disable=not config.progress,
            leave=False,
        )
        for rgb in frames:
            faces = tracker.update(detector.detect(rgb))
            if not len(faces):
                continue
            crops = align_faces(rgb, faces, size=config.input_size)
            assert faces.track_id is not None  # the tracker has named every face
            for k, track_id in enumerate(faces.track_id):
                name = f"r{index:02d}_{track_id}"
                track = tracks.setdefault(name, {"recording": sha, "frames": 0, "taught": {}})
                frame = track["frames"]
                folder = out / CROPS_DIR / name
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(
                    str(folder / FRAME_NAME.format(frame + 1)),
                    cv2.cvtColor(crops[k], cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
                )
                if frame % config.teach_every == 0:
                    keypoints = None if faces.keypoints is None else faces.keypoints[k]
                    teaching = teachers.teach(rgb, faces.xyxy[k], roll_degrees(keypoints))
                    track["taught"][str(frame)] = _teaching_record(teaching)
                track["frames"] = frame + 1
    record = {"tracks": tracks}
    out.mkdir(parents=True, exist_ok=True)
    (out / TEACHINGS_FILE).write_text(json.dumps(record) + "\n")
    return record
