"""Pair predictions with labels: frames by stamp or index, predicted tracks to labelled faces.

Two sources of labels:

- Per-face ground truth (a bag's ground-truth topic): frames are matched by header stamp; in
  each frame the predicted tracks and the labelled faces are paired one to one by box overlap
  (Hungarian assignment on IoU, pairs below ``MIN_IOU`` dropped), so each labelled face gets
  the prediction that overlaps it most.
- Per-frame rows (Aff-Wild2 files): frame i of the bag is row i of the file, compared with
  the largest predicted face in the frame (the annotated subject of an Aff-Wild2 video).

The result is a `Series`: one row per labelled face and frame that has a prediction, grouped
by person (each person's frames in order, persons sorted), the concatenation ABAW scores.
By default only warm predictions (a full temporal window) count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from affect_perception.detections import Detections, box_iou
from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_NAMES, EMI_NAMES

# Least IoU between a predicted and a labelled box for them to be the same face.
MIN_IOU = 0.3
# Width of each task's rows in a Series.
TASK_WIDTH: dict[str, int] = {"va": 2, "au": len(AU_NAMES), "emi": len(EMI_NAMES), "ah": 1}


@dataclass
class Series:
    """Predictions and labels row by row, person-major.

    Attributes:
        person: (n,) the labelled person (ground-truth track id or video name).
        frame: (n,) bag frame index.
        time: (n,) seconds since the bag's first frame.
        pred: task -> (n, width) predictions (``va``, ``au``, ``emi``, ``ah``).
        label: task -> (n, width) labels, for the tasks the labels hold, with the Aff-Wild2
            missing markers (VA -5, AU -1) where a frame is unlabelled.
    """

    person: np.ndarray
    frame: np.ndarray
    time: np.ndarray
    pred: dict[str, np.ndarray]
    label: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class MatchStats:
    """Counts of the pairing.

    Attributes:
        labelled_faces: labelled faces over all frames (face-frames).
        matched_faces: of those, paired with a predicted track.
        scored_faces: of those, paired with a prediction that is scored (warm, if asked).
        missing_predictions: frames with labels but no prediction (dropped by the node).
    """

    labelled_faces: int = 0
    matched_faces: int = 0
    scored_faces: int = 0
    missing_predictions: int = 0
    tracks_per_person: dict[str, set[str]] = field(default_factory=dict)


def assign(pred: Detections, truth: Detections, min_iou: float = MIN_IOU) -> list[tuple[int, int]]:
    """One-to-one (prediction row, truth row) pairs of greatest total IoU, each >= min_iou."""
    if not len(pred) or not len(truth):
        return []
    overlap = box_iou(pred.xyxy, truth.xyxy)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= min_iou]


def task_values(faces: Detections) -> dict[str, np.ndarray]:
    """Each task's (n, width) values from FrameResult face fields (probabilities for AU, AH)."""
    data = faces.data
    return {
        "va": np.stack([data["valence"], data["arousal"]], axis=1).astype(np.float64),
        "au": np.asarray(data["au_prob"], np.float64).reshape(-1, TASK_WIDTH["au"]),
        "emi": np.asarray(data["emi"], np.float64).reshape(-1, TASK_WIDTH["emi"]),
        "ah": np.asarray(data["ah_prob"], np.float64).reshape(-1, 1),
    }


class _Rows:
    """Collects Series rows."""

    def __init__(self, tasks: Sequence[str]) -> None:
        self.tasks = tuple(tasks)
        self.person: list[str] = []
        self.frame: list[int] = []
        self.time: list[float] = []
        self.pred: dict[str, list[np.ndarray]] = {t: [] for t in TASK_WIDTH}
        self.label: dict[str, list[np.ndarray]] = {t: [] for t in self.tasks}

    def add(
        self,
        person: str,
        frame: int,
        time: float,
        pred: dict[str, np.ndarray],
        label: dict[str, np.ndarray],
    ) -> None:
        self.person.append(person)
        self.frame.append(frame)
        self.time.append(time)
        for task in TASK_WIDTH:
            self.pred[task].append(pred[task])
        for task in self.tasks:
            self.label[task].append(label[task])

    def series(self) -> Series:
        order = np.lexsort((np.asarray(self.frame, np.int64), np.asarray(self.person, dtype=str)))

        def stack(values: list[np.ndarray], width: int) -> np.ndarray:
            out = np.asarray(values, np.float64).reshape(-1, width)
            return out[order]

        return Series(
            person=np.asarray(self.person, dtype=object).reshape(-1)[order],
            frame=np.asarray(self.frame, np.int64).reshape(-1)[order],
            time=np.asarray(self.time, np.float64).reshape(-1)[order],
            pred={t: stack(v, TASK_WIDTH[t]) for t, v in self.pred.items()},
            label={t: stack(v, TASK_WIDTH[t]) for t, v in self.label.items()},
        )


def _scored(result: FrameResult, warm_only: bool) -> np.ndarray:
    """(n,) bool: the faces of a prediction that count."""
    return result.warm if warm_only else np.ones(len(result.faces), bool)


def pair_with_truth(
    stamps: Sequence[int],
    predictions: Sequence[FrameResult | None],
    truth: dict[int, FrameResult],
    *,
    warm_only: bool = True,
    min_iou: float = MIN_IOU,
) -> tuple[Series, MatchStats]:
    """Pair per-face ground truth (keyed by stamp) with the predictions of each frame.

    Args:
        stamps: header stamp (ns) of each bag frame, in order.
        predictions: the prediction for each frame, None where none came back.
        truth: ground truth keyed by header stamp; frames without an entry are unlabelled.
        warm_only: score only predictions whose temporal window is full.
        min_iou: least box overlap of a predicted track and a labelled face.
    """
    rows, stats = _Rows(tuple(TASK_WIDTH)), MatchStats()
    start = stamps[0] if len(stamps) else 0
    for index, (stamp, result) in enumerate(zip(stamps, predictions, strict=True)):
        labelled = truth.get(stamp)
        if labelled is None or not len(labelled.faces):
            continue
        stats.labelled_faces += len(labelled.faces)
        if result is None:
            stats.missing_predictions += 1
            continue
        pred_values, label_values = task_values(result.faces), task_values(labelled.faces)
        counted = _scored(result, warm_only)
        for p, t in assign(result.faces, labelled.faces, min_iou):
            person = str(labelled.faces.track_id[t])
            stats.matched_faces += 1
            stats.tracks_per_person.setdefault(person, set()).add(str(result.faces.track_id[p]))
            if not counted[p]:
                continue
            stats.scored_faces += 1
            rows.add(
                person,
                index,
                (stamp - start) / 1e9,
                {k: v[p] for k, v in pred_values.items()},
                {k: v[t] for k, v in label_values.items()},
            )
    return rows.series(), stats


def main_face(result: FrameResult) -> int | None:
    """Row of the largest face of a prediction, None when it has no face."""
    if not len(result.faces):
        return None
    return int(np.argmax(result.faces.area))


def pair_with_rows(
    stamps: Sequence[int],
    predictions: Sequence[FrameResult | None],
    labels: dict[str, np.ndarray],
    person: str,
    *,
    warm_only: bool = True,
) -> tuple[Series, MatchStats]:
    """Pair per-frame label rows (row i = frame i) with each frame's largest predicted face.

    Args:
        stamps: header stamp (ns) of each bag frame, in order.
        predictions: the prediction for each frame, None where none came back.
        labels: task -> (frames, width) label rows; every task must have one row per frame.
        person: the name of the labelled subject (the video name).
        warm_only: score only predictions whose temporal window is full.
    """
    for task, values in labels.items():
        if len(values) != len(stamps):
            raise ValueError(
                f"the {task} labels have {len(values)} rows but the bag has "
                f"{len(stamps)} frames; labels must hold one row per frame"
            )
    rows, stats = _Rows(tuple(labels)), MatchStats()
    start = stamps[0] if len(stamps) else 0
    for index, (stamp, result) in enumerate(zip(stamps, predictions, strict=True)):
        stats.labelled_faces += 1
        if result is None:
            stats.missing_predictions += 1
            continue
        face = main_face(result)
        if face is None:
            continue
        stats.matched_faces += 1
        stats.tracks_per_person.setdefault(person, set()).add(str(result.faces.track_id[face]))
        if not _scored(result, warm_only)[face]:
            continue
        stats.scored_faces += 1
        values = task_values(result.faces)
        rows.add(
            person,
            index,
            (stamp - start) / 1e9,
            {k: v[face] for k, v in values.items()},
            {k: np.asarray(v[index], np.float64) for k, v in labels.items()},
        )
    return rows.series(), stats
