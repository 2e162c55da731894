"""Readers for the Aff-Wild2, Hume-Vidmimic2 and BAH layouts, and segment sampling for training.

One data source is a folder of aligned face crops per video (``cropped_aligned/<video>/
00001.jpg``, frame 1 first; missing files are frames without a face) plus, per task, the
label files `evaluation.labels_io` reads: per-video VA and AU ``.txt`` folders (Aff-Wild2,
-5 / -1 for a missing label), one EMI CSV with a row per video (Hume-Vidmimic2) or a folder
of per-frame EMI files (``synth``'s ``EMI_Frames``, preferred where it exists) and per-video
frame-level ``hesitancy`` files (BAH style, -1 for missing). A task a video has no labels for
is masked for that video, never a reason to drop it; a frame without an image has every label
masked. `DataSource.from_root` finds all of it in the layout the ``synth`` command writes
(Aff-Wild2's folder names, Hume-Vidmimic2's ``train_split.csv`` / ``valid_split.csv``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from affect_perception.evaluation import labels_io
from affect_perception.labels import AU_MISSING, TASK_DIMS, TASKS, VA_MISSING
from affect_perception.synth.dataset import (
    AH_DIR,
    AU_DIR,
    CROPS_DIR,
    EMI_DIR,
    EMI_FILES,
    EMI_FRAMES_DIR,
    VA_DIR,
)

LOG = logging.getLogger(__name__)

# Label folder (or EMI CSV) of each task under a data root, by split name.
LAYOUT: dict[str, Callable[[str], str]] = {
    "va": lambda split: f"{VA_DIR}/{split}",
    "au": lambda split: f"{AU_DIR}/{split}",
    "emi": lambda split: f"{EMI_DIR}/{EMI_FILES.get(split, split + '.csv')}",
    "ah": lambda split: f"{AH_DIR}/{split}",
}
# Image file of frame i (1-based) inside a video's folder.
FRAME_FILE = "{:05d}.jpg"


@dataclass(frozen=True)
class DataSource:
    """Where one data set's frames and labels lie; None for a task it has no labels for."""

    frames: Path
    va: Path | None = None
    au: Path | None = None
    emi: Path | None = None
    ah: Path | None = None

    @classmethod
    def from_root(cls, root: str | Path, split: str) -> DataSource:
        """The layout under ``root``: ``cropped_aligned`` and each task's files that exist."""
        root = Path(root)
        if not (root / CROPS_DIR).is_dir():
            raise FileNotFoundError(
                f"{root} has no {CROPS_DIR}/ folder; point at a data root such as the output "
                "of `affect-perception synth`, or give frames and label paths one by one"
            )
        paths = {t: root / where(split) for t, where in LAYOUT.items()}
        if (root / EMI_FRAMES_DIR / split).is_dir():
            paths["emi"] = root / EMI_FRAMES_DIR / split
        found = {t: p for t, p in paths.items() if p.exists()}
        if not found:
            raise FileNotFoundError(
                f"{root} has no labels for split {split!r}; expected any of "
                + ", ".join(str(p) for p in paths.values())
            )
        return cls(root / CROPS_DIR, **found)

    def tasks(self) -> tuple[str, ...]:
        """Tasks this source has labels for."""
        return tuple(t for t in TASKS if getattr(self, t) is not None)


@dataclass
class VideoData:
    """One video's frames and labels; frame i of the arrays is image ``i + 1``.

    Attributes:
        name: video name (its folder under ``frames``).
        frame_dir: folder of its crops.
        present: (F,) True where the frame has an image.
        labels: {task: (F, dim) float32}, every task of ``labels.TASKS`` (zeros where unknown).
        masks: {task: bool mask}: (F, 12) for ``au``, (F,) for the others.
        emi_per_frame: the EMI labels are per frame; False: the video's one row, repeated.
    """

    name: str
    frame_dir: Path
    present: np.ndarray
    labels: dict[str, np.ndarray] = field(repr=False)
    masks: dict[str, np.ndarray] = field(repr=False)
    emi_per_frame: bool = False

    @property
    def num_frames(self) -> int:
        return len(self.present)

    def image_frames(self) -> np.ndarray:
        """(F,) for each frame, the frame whose image stands in for it: itself if present,
        else the nearest earlier present frame (the first present one before any)."""
        idx = np.where(self.present, np.arange(self.num_frames), -1)
        held = np.maximum.accumulate(idx)
        return np.where(held < 0, int(np.argmax(self.present)), held)

    def image_path(self, frame: int) -> Path:
        return self.frame_dir / FRAME_FILE.format(frame + 1)


def read_source(source: DataSource) -> list[VideoData]:
    """Read every video of a source that has frames and labels of at least one task.

    Raises:
        FileNotFoundError: no labelled video has a frame folder.
        labels_io.LabelFileError: a label file is malformed.
    """
    rows = {t: labels_io.read(getattr(source, t), t) for t in source.tasks()}
    names = sorted(set().union(*(r.keys() for r in rows.values())))
    missing = [n for n in names if not (source.frames / n).is_dir()]
    if len(missing) == len(names):
        raise FileNotFoundError(
            f"none of the {len(names)} labelled videos has a frame folder in {source.frames}; "
            "point frames at the cropped_aligned folder of the same data set"
        )
    if missing:
        LOG.warning(
            "%d labelled videos have no frame folder in %s and are left out (e.g. %s)",
            len(missing),
            source.frames,
            missing[:3],
        )
    emi_per_frame = source.emi is not None and source.emi.is_dir()
    return [
        _video(
            source.frames / n, {t: r[n].values for t, r in rows.items() if n in r}, emi_per_frame
        )
        for n in names
        if n not in missing
    ]


def _known(task: str, values: np.ndarray) -> np.ndarray:
    """Mask of the labels that exist: (n, 12) for AUs, (n,) rows for the other tasks."""
    if task in ("va", "emi"):
        return (values != VA_MISSING).all(axis=1)
    if task == "au":
        return values != AU_MISSING
    if task == "ah":
        return np.isin(values[:, 0], (0.0, 1.0))
    return np.ones(len(values), dtype=bool)


def _video(frame_dir: Path, rows: dict[str, np.ndarray], emi_per_frame: bool) -> VideoData:
    """Build a video's label arrays and masks from its label rows per task."""
    numbers = sorted(int(p.stem) for p in frame_dir.glob("*.jpg") if p.stem.isdigit())
    if not numbers:
        raise FileNotFoundError(f"{frame_dir} holds no frame images (00001.jpg, ...)")
    count = max([numbers[-1], *(len(v) for t, v in rows.items() if t != "emi" or emi_per_frame)])
    present = np.zeros(count, dtype=bool)
    present[np.asarray(numbers) - 1] = True
    labels = {t: np.zeros((count, d), dtype=np.float32) for t, d in TASK_DIMS.items()}
    masks = {
        t: np.zeros((count, d) if t == "au" else count, dtype=bool) for t, d in TASK_DIMS.items()
    }
    for task, values in rows.items():
        if task == "emi" and not emi_per_frame:  # one row: the label of each frame
            values = np.repeat(values, count, axis=0)
        labels[task][: len(values)] = values
        masks[task][: len(values)] = _known(task, values)
    for task, mask in masks.items():
        mask &= present[:, None] if mask.ndim == 2 else present
        labels[task][~mask] = 0.0
    return VideoData(frame_dir.name, frame_dir, present, labels, masks, emi_per_frame)


def read_crops(video: VideoData, frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB crops (B, size, size, 3) of frame indices (0-based) of a video.

    A frame without an image shows the nearest earlier one (`VideoData.image_frames`); crops of
    another size (Aff-Wild2's are 112 px) are resized to ``size``.
    """
    stand_in = video.image_frames()
    images = np.empty((len(frames), size, size, 3), np.uint8)
    for k, frame in enumerate(np.asarray(frames)):
        path = video.image_path(int(stand_in[frame]))
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read the image {path}; is the file complete?")
        if bgr.shape[:2] != (size, size):
            bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR)
        images[k] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return images


def load_frames(
    video: VideoData,
    frames: np.ndarray,
    size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> torch.Tensor:
    """Normalised RGB crops (B, 3, size, size) of frame indices (0-based) of a video (see
    `read_crops`)."""
    x = torch.from_numpy(read_crops(video, frames, size)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
