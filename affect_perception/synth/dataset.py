"""Synthetic videos as aligned crops and labels: on disk in the real datasets' layouts, or
in memory (:func:`render_clip`) for a trainer that renders as it goes.

Under the output folder (one "video" per face: ``<video>_face<k>`` when a video has several)::

    cropped_aligned/<video>/00001.jpg ...           224×224 crops, one per frame
    VA_Estimation_Challenge/<split>/<video>.txt     "valence,arousal", -5 where missing
    AU_Detection_Challenge/<split>/<video>.txt      "AU1,...,AU26", -1 where missing
    AH_Labels/<split>/<video>.txt                   "hesitancy", 0/1, -1 where missing
    EMI_Frames/<split>/<video>.txt                  the six EMI names, per frame, -5 missing
    Face_State/<split>/<video>.txt                  pose, gaze, blink, AU intensities per frame
    EMI_Labels/train_split.csv, valid_split.csv     "Filename,Admiration,...,Joy", per video
    synth.json                                      the settings and every video's seed

``<split>`` is ``Train_Set`` or ``Validation_Set`` (Aff-Wild2's names); the EMI CSV names
follow Hume-Vidmimic2. Crops come from the runtime's alignment on the ground-truth boxes and
keypoints, shaken from frame to frame as much as a detector's are, so they match what the
pipeline feeds the model. Frames where a face is mostly out of the frame keep their crop and
carry the missing markers, as in Aff-Wild2.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from affect_perception.detections import Detections
from affect_perception.labels import AU_MISSING, AU_NAMES, EMI_NAMES, VA_MISSING, VA_NAMES
from affect_perception.runtime.alignment import align_faces
from affect_perception.synth import labels
from affect_perception.synth.scene import SynthFrame, Video

SPLITS = ("Train_Set", "Validation_Set")
CROPS_DIR = "cropped_aligned"
VA_DIR = "VA_Estimation_Challenge"
AU_DIR = "AU_Detection_Challenge"
AH_DIR = "AH_Labels"
EMI_FRAMES_DIR = "EMI_Frames"
STATE_DIR = "Face_State"
# Columns of a Face_State file: the renderer's per-frame state beyond the task labels (head
# pose in degrees, gaze in eye units, eyelid closure, the strength of the mouth pull to either
# side and the pull signed by its side (positive: image right; a hesitation swings it from
# side to side), AU intensities), written for every frame
# (the task files mark the frames whose face is mostly out of view); the backbone
# pretraining (train/pretrain.py) regresses them.
STATE_COLUMNS = (
    "yaw",
    "pitch",
    "roll",
    "gaze_x",
    "gaze_y",
    "blink",
    "hesitation",
    "hesitation_x",
    *(f"{name}_level" for name in AU_NAMES),
)
EMI_DIR = "EMI_Labels"
EMI_FILES = {"Train_Set": "train_split.csv", "Validation_Set": "valid_split.csv"}
MANIFEST = "synth.json"
# Marker of a missing A/H frame label (as for AUs).
AH_MISSING = AU_MISSING
# JPEG quality of the crops.
JPEG_QUALITY = 90
# Per-frame noise (sd) on the box corners and keypoints the crops are aligned on, as a
# fraction of the box's longer side: a detector's boxes move about this much between frames
# of a face that holds still (1.9 px a frame on the astronaut clip's ~100 px box), and the
# node aligns on them, so a still face's crops shake and the temporal model must learn that
# this is not movement of the face.
CROP_JITTER = 0.015
# Stream of a video's seed the crop noise draws from (the scene and faces use the others).
JITTER_STREAM = 1


@dataclass
class DatasetConfig:
    """What to write.

    Attributes:
        videos: number of videos.
        frames: frames per video.
        seed: dataset seed; each video's seed derives from it and the video's index.
        faces: faces per video.
        val_ratio: share of videos in Validation_Set (all faces of a video share its split).
        size: frame (width, height) in pixels.
        fps: frame rate.
        crop_size: side of the aligned crops in pixels.
    """

    videos: int
    frames: int
    seed: int = 0
    faces: int = 1
    val_ratio: float = 0.2
    size: tuple[int, int] = (640, 480)
    fps: float = 30.0
    crop_size: int = 224

    def __post_init__(self) -> None:
        if self.videos < 1 or self.frames < 1 or self.faces < 1:
            raise ValueError(
                "videos, frames and faces must each be at least 1, got "
                f"{self.videos}, {self.frames}, {self.faces}"
            )
        if not 0.0 <= self.val_ratio <= 1.0:
            raise ValueError(f"val_ratio must lie in [0, 1], got {self.val_ratio}")


@dataclass
class VideoEntry:
    """One written face-video: its name, split, source video seed and face (person) index."""

    name: str
    split: str
    seed: int
    person: int
    labelled_frames: int


@dataclass
class Manifest:
    """What a dataset folder holds (written as synth.json)."""

    config: DatasetConfig
    videos: list[VideoEntry] = field(default_factory=list)


def video_seed(seed: int, index: int) -> int:
    """The render seed of video ``index`` of a dataset with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def video_splits(config: DatasetConfig) -> list[str]:
    """Split of each video: round(val_ratio · videos) random videos go to Validation_Set."""
    n_val = int(round(config.val_ratio * config.videos))
    order = np.random.default_rng([config.seed, config.videos]).permutation(config.videos)
    val = set(order[:n_val].tolist())
    return [SPLITS[1] if i in val else SPLITS[0] for i in range(config.videos)]


@dataclass
class Clip:
    """Aligned crops and labels of every face of one rendered video (for training in memory).

    Attributes:
        crops: (faces, frames, S, S, 3) uint8 RGB crops from the runtime alignment.
        va: (faces, frames, 2) valence, arousal.
        au: (faces, frames, 12) int 0/1.
        emi: (faces, frames, 6) per-frame EMI intensities.
        ah: (faces, frames) int 0/1.
        labelled: (faces, frames) bool, False where the face is mostly out of the frame.
    """

    crops: np.ndarray
    va: np.ndarray
    au: np.ndarray
    emi: np.ndarray
    ah: np.ndarray
    labelled: np.ndarray


def aligned_crops(
    frame: SynthFrame, crop_size: int = 224, jitter: np.random.Generator | None = None
) -> np.ndarray:
    """(faces, S, S, 3) crops of a frame's faces, aligned on their true boxes and keypoints,
    moved by detector-like noise (``CROP_JITTER``) drawn from ``jitter`` where given."""
    box = np.stack([f.box for f in frame.faces])
    keypoints = np.stack([f.keypoints for f in frame.faces])
    if jitter is not None:
        side = (box[:, 2:] - box[:, :2]).max(axis=1)
        box = box + jitter.normal(0.0, CROP_JITTER, box.shape) * side[:, None]
        keypoints = (
            keypoints + jitter.normal(0.0, CROP_JITTER, keypoints.shape) * side[:, None, None]
        )
    faces = Detections(xyxy=box, score=np.ones(len(frame.faces)), keypoints=keypoints)
    return align_faces(frame.image, faces, size=crop_size)


def crop_jitter(seed: int) -> np.random.Generator:
    """The random source of the crop noise of the video with seed ``seed``."""
    return np.random.default_rng([seed, JITTER_STREAM])


def render_clip(
    seed: int,
    frames: int,
    faces: int = 1,
    size: tuple[int, int] = (640, 480),
    fps: float = 30.0,
    crop_size: int = 224,
) -> Clip:
    """Render a video and return its aligned crops and labels as arrays."""
    video = Video(seed, frames, faces, size, fps)
    crops = np.empty((faces, frames, crop_size, crop_size, 3), np.uint8)
    labelled = np.zeros((faces, frames), dtype=bool)
    jitter = crop_jitter(seed)
    for frame in video:
        crops[:, frame.index] = aligned_crops(frame, crop_size, jitter)
        labelled[:, frame.index] = [f.labelled for f in frame.faces]
    lab = video.labels
    return Clip(
        crops=crops,
        va=np.stack([x.va for x in lab]),
        au=np.stack([x.au for x in lab]),
        emi=np.stack([x.emi for x in lab]),
        ah=np.stack([x.ah for x in lab]),
        labelled=labelled,
    )


def _write_table(path: Path, header: list[str], rows: np.ndarray, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(fmt % v for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _write_labels(
    out: Path, name: str, split: str, video: Video, person: int, labelled: np.ndarray
) -> np.ndarray:
    """Write one face's frame label files; return its per-video EMI row."""
    lab = video.labels[person]
    missing = ~labelled
    va = np.where(missing[:, None], VA_MISSING, lab.va)
    au = np.where(missing[:, None], AU_MISSING, lab.au)
    ah = np.where(missing, AH_MISSING, lab.ah)
    emi = np.where(missing[:, None], VA_MISSING, lab.emi)
    _write_table(out / VA_DIR / split / f"{name}.txt", list(VA_NAMES), va, "%.4f")
    _write_table(out / AU_DIR / split / f"{name}.txt", list(AU_NAMES), au, "%d")
    _write_table(out / AH_DIR / split / f"{name}.txt", ["hesitancy"], ah[:, None], "%d")
    _write_table(out / EMI_FRAMES_DIR / split / f"{name}.txt", list(EMI_NAMES), emi, "%.4f")
    track = video.tracks[person]
    state = np.column_stack(
        [
            track.yaw,
            track.pitch,
            track.roll,
            track.gaze,
            track.blink,
            np.abs(track.hesitation),
            track.hesitation,
            track.au,
        ]
    )
    _write_table(out / STATE_DIR / split / f"{name}.txt", list(STATE_COLUMNS), state, "%.4f")
    return labels.video_emi(lab.emi, labelled)


def _write_video(
    out: Path, config: DatasetConfig, index: int, split: str
) -> list[tuple[VideoEntry, str]]:
    """Render video ``index`` and write its crops and label files; return each face's
    manifest entry and EMI CSV row."""
    seed = video_seed(config.seed, index)
    video = Video(seed, config.frames, config.faces, config.size, config.fps)
    base = f"synth_{config.seed}_{index:04d}"
    names = [base if config.faces == 1 else f"{base}_face{k}" for k in range(config.faces)]
    folders = [out / CROPS_DIR / name for name in names]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    labelled = np.zeros((config.faces, config.frames), dtype=bool)
    jitter = crop_jitter(seed)
    for frame in video:
        crops = aligned_crops(frame, config.crop_size, jitter)
        for k, (truth, crop) in enumerate(zip(frame.faces, crops, strict=True)):
            labelled[k, frame.index] = truth.labelled
            cv2.imwrite(
                str(folders[k] / f"{frame.index + 1:05d}.jpg"),
                cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
            )
    written = []
    for k, name in enumerate(names):
        row = _write_labels(out, name, split, video, k, labelled[k])
        written.append(
            (
                VideoEntry(
                    name=name,
                    split=split,
                    seed=seed,
                    person=k,
                    labelled_frames=int(labelled[k].sum()),
                ),
                ",".join([name] + [f"{v:.4f}" for v in row]),
            )
        )
    return written


def write_dataset(out: Path | str, config: DatasetConfig, workers: int = 1) -> Manifest:
    """Render ``config.videos`` videos and write crops and labels under ``out``.

    Args:
        out: output folder.
        config: what to write.
        workers: processes rendering videos side by side; the files are the same for any
            number (each video has its own seed).

    Returns:
        The manifest, also written to ``out/synth.json``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = Path(out)
    splits = video_splits(config)
    jobs = (itertools.repeat(out), itertools.repeat(config), range(config.videos), splits)
    if workers == 1:
        videos = list(map(_write_video, *jobs))
    else:
        # spawned, not forked: OpenCV's and torch's thread pools do not survive a fork
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            videos = list(pool.map(_write_video, *jobs))
    manifest = Manifest(config=config, videos=[entry for faces in videos for entry, _ in faces])
    (out / EMI_DIR).mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        rows = [row for faces in videos for entry, row in faces if entry.split == split]
        header = ",".join(["Filename", *EMI_NAMES])
        (out / EMI_DIR / EMI_FILES[split]).write_text("\n".join([header, *rows]) + "\n")
    (out / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1) + "\n")
    return manifest
