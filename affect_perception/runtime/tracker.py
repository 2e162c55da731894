"""`FaceTracker`: stable ids for the faces of a video, and boxes carried between detections.

Core (`FaceTracker`), matching (`match_cost`, `assign`) and per-track state (`_TrackTable`,
an alpha-beta filter on the box corners) are split so each can be read and tested alone.
Pure numpy plus scipy's Hungarian solver; ids are counted per tracker instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from affect_perception.detections import NUM_KEYPOINTS, Detections, box_iou

# Smallest box side in pixels: a shrinking predicted box never inverts, sizes never divide by 0.
MIN_BOX_SIDE = 1.0
# Cost given to pairs beyond the gate, so the solver only takes them when nothing else is left.
GATED_COST = 1e6


@dataclass
class TrackerConfig:
    """Tracker thresholds and what raising or lowering each one trades off.

    Attributes:
        max_cost: gate on the match cost in [0, 1]; pairs above it are never matched. Higher:
            fast-moving faces and faces seen every few frames keep their ids, but two faces
            passing close to each other swap ids more easily. Lower: ids never jump between
            nearby faces, but a quick head move breaks the track and a new id starts.
        iou_weight: share of ``1 - IoU`` in the cost; the rest is the centre distance over the
            mean box diagonal (capped at 1). Higher: trusts box overlap, robust between
            neighbouring faces of different size, but loses faces whose boxes no longer
            overlap from one detection to the next. Lower: trusts the centre distance,
            bridging quick moves and sparse detection, weaker between faces close together.
        n_init: matched detections before a track is confirmed and reported. Higher: a
            spurious detection that flickers for a few frames never becomes a face, but a
            real face appears later. Lower: faces appear at once, false faces too (1: at once).
        max_misses: consecutive updates without a match a confirmed track survives (a
            tentative track dies at its first miss). Higher: a face that is briefly occluded
            or missed by the detector keeps its id and its temporal window, but a face that
            left lingers, and one entering where it left may inherit its id. Lower: departed
            faces vanish at once, but every detector miss restarts a face. Counted in
            `update` calls only: `predict` is neither a hit nor a miss.
        alpha: gain of the box correction in (0, 1]. Higher: predictions follow detections
            closely and jitter with them; lower: smoother, but lagging behind a moving face.
        beta: gain of the velocity correction in [0, 1). Higher: the velocity follows changes
            of motion quickly, and detector jitter too; lower: a steadier velocity that is
            slow to follow turns. 0 switches motion prediction off (boxes stay put).
    """

    max_cost: float = 0.75
    iou_weight: float = 0.5
    n_init: int = 3
    max_misses: int = 10
    alpha: float = 0.85
    beta: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "max_cost": 0 < self.max_cost <= 1,
            "iou_weight": 0 <= self.iou_weight <= 1,
            "n_init": self.n_init >= 1,
            "max_misses": self.max_misses >= 0,
            "alpha": 0 < self.alpha <= 1,
            "beta": 0 <= self.beta < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"TrackerConfig out of range: {', '.join(bad)}; ranges: max_cost "
                "(0, 1], iou_weight [0, 1], n_init >= 1, max_misses >= 0, "
                "alpha (0, 1], beta [0, 1)"
            )


def _centre_size(xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (xyxy[:, :2] + xyxy[:, 2:]) / 2, np.maximum(xyxy[:, 2:] - xyxy[:, :2], MIN_BOX_SIDE)


def match_cost(tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray, iou_weight: float) -> np.ndarray:
    """(t, d) cost in [0, 1]: ``w (1 - IoU) + (1 - w) min(1, centre distance / mean diagonal)``."""
    a, b = tracks_xyxy[:, None, :], dets_xyxy[None, :, :]
    wh_a, wh_b = a[..., 2:] - a[..., :2], b[..., 2:] - b[..., :2]
    iou = box_iou(tracks_xyxy, dets_xyxy)
    # twice the centre offset over twice the mean diagonal
    offset = a[..., :2] + a[..., 2:] - b[..., :2] - b[..., 2:]
    diagonals = np.hypot(wh_a[..., 0], wh_a[..., 1]) + np.hypot(wh_b[..., 0], wh_b[..., 1])
    dist = np.hypot(offset[..., 0], offset[..., 1]) / np.maximum(diagonals, 1e-9)
    return iou_weight * (1.0 - iou) + (1.0 - iou_weight) * np.minimum(dist, 1.0)


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment with a gate.

    Returns:
        (k, 2) matched (row, column) pairs, unmatched rows, unmatched columns.
    """
    free_rows, free_cols = np.ones(cost.shape[0], bool), np.ones(cost.shape[1], bool)
    if cost.size == 0:
        return np.zeros((0, 2), np.intp), np.flatnonzero(free_rows), np.flatnonzero(free_cols)
    r, c = linear_sum_assignment(np.where(cost > max_cost, GATED_COST, cost))
    keep = cost[r, c] <= max_cost
    r, c = r[keep], c[keep]
    free_rows[r], free_cols[c] = False, False
    return np.stack([r, c], axis=1), np.flatnonzero(free_rows), np.flatnonzero(free_cols)


class _TrackTable:
    """Per-track state as parallel arrays, one row per live track, oldest track first.

    Motion is an alpha-beta filter on the box corners (the same as filtering centre and size:
    the filter is linear): `advance` moves every box one frame along its velocity, `correct`
    pulls matched boxes towards their detections and updates the velocity with the residual
    spread over the frames since the last match.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.box = np.zeros((0, 4))  # x1, y1, x2, y2 in pixels
        self.velocity = np.zeros((0, 4))  # pixels per frame
        self.rel_keypoints = np.zeros((0, NUM_KEYPOINTS, 2))  # from the centre, in box sizes
        self.score = np.zeros(0)
        self.hits = np.zeros(0, np.int64)
        self.misses = np.zeros(0, np.int64)  # consecutive updates without a match
        self.steps = np.zeros(0, np.int64)  # frames since the last match
        self.confirmed = np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self.ids)

    def keypoints(self) -> np.ndarray:
        centre, size = _centre_size(self.box)
        return self.rel_keypoints * size[:, None] + centre[:, None]

    def advance(self) -> None:
        self.box += self.velocity
        np.maximum(self.box[:, 2:], self.box[:, :2] + MIN_BOX_SIDE, out=self.box[:, 2:])
        self.steps += 1

    def correct(
        self,
        rows: np.ndarray,
        xyxy: np.ndarray,
        keypoints: np.ndarray,
        score: np.ndarray,
        config: TrackerConfig,
    ) -> None:
        """Pull ``rows`` towards their matched detections (same order)."""
        residual = xyxy - self.box[rows]
        self.box[rows] += config.alpha * residual
        self.velocity[rows] += config.beta * residual / np.maximum(self.steps[rows], 1)[:, None]
        self.hits[rows] += 1
        self.misses[rows], self.steps[rows] = 0, 0
        self.confirmed[rows] |= self.hits[rows] >= config.n_init
        self._measure(rows, xyxy, keypoints, score)

    def _measure(
        self, rows: np.ndarray | slice, xyxy: np.ndarray, keypoints: np.ndarray, score: np.ndarray
    ) -> None:
        # keypoints relative to the detection box, so that a predicted box carries them along
        centre, size = _centre_size(xyxy)
        self.rel_keypoints[rows] = (keypoints - centre[:, None]) / size[:, None]
        self.score[rows] = score

    def append(self, ids: list[str], dets: Detections, confirmed: bool) -> None:
        """Start one track per detection, at rest."""
        n, old = len(ids), len(self)
        self.ids += ids
        self.box = np.concatenate([self.box, dets.xyxy])
        self.velocity = np.concatenate([self.velocity, np.zeros((n, 4))])
        self.rel_keypoints = np.concatenate([self.rel_keypoints, np.zeros((n, NUM_KEYPOINTS, 2))])
        self.score = np.concatenate([self.score, np.zeros(n)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.misses = np.concatenate([self.misses, np.zeros(n, np.int64)])
        self.steps = np.concatenate([self.steps, np.zeros(n, np.int64)])
        self.confirmed = np.concatenate([self.confirmed, np.full(n, confirmed)])
        self._measure(slice(old, None), self.box[old:], dets.keypoints, dets.score)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is True."""
        self.ids = [t for t, k in zip(self.ids, mask, strict=True) if k]
        for name in (
            "box",
            "velocity",
            "rel_keypoints",
            "score",
            "hits",
            "misses",
            "steps",
            "confirmed",
        ):
            setattr(self, name, getattr(self, name)[mask])


class FaceTracker:
    """Multi-face tracker: Hungarian matching on IoU and centre distance, alpha-beta motion.

    Call `update` on frames with detections and `predict` on frames without (the pipeline
    detects every k frames). Only confirmed tracks are reported. After each call, `removed`
    lists the confirmed ids dropped by it, so per-face state elsewhere can be freed; ids are
    ``f0001``, ``f0002``, ... counted per tracker and never reused, not even after `reset`.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._table = _TrackTable()
        self._count = 0
        self.removed: list[str] = []

    @property
    def tracks(self) -> int:
        """Live tracks, tentative and confirmed."""
        return len(self._table)

    def reset(self) -> None:
        """Drop every track (their confirmed ids go to `removed`); the id counter goes on."""
        self.removed = [
            t for t, c in zip(self._table.ids, self._table.confirmed, strict=True) if c
        ]
        self._table = _TrackTable()

    def remove(self, track_ids: Sequence[str]) -> None:
        """Drop these tracks (unknown ids, and ids already dropped, are ignored)."""
        gone = set(track_ids)
        self._table.keep(np.array([t not in gone for t in self._table.ids], bool))

    def update(self, detections: Detections) -> Detections:
        """Match this frame's detections to the tracks.

        Returns:
            The detections matched to confirmed tracks, in input order, with ``track_id``
            set and ``data["predicted"]`` False; boxes, keypoints and scores are the
            detector's own (the filter only serves prediction).
        """
        self.removed = []
        table, n_old = self._table, len(self._table)
        table.advance()
        matches, lost, new = self._match(detections)
        if len(matches):
            cols = matches[:, 1]
            table.correct(
                matches[:, 0],
                detections.xyxy[cols],
                detections.keypoints[cols],
                detections.score[cols],
                self.config,
            )
        if len(new):
            self._start(detections[new])
        # every detection is now matched or new: its table row, and whether it is shown
        row_of = np.empty(len(detections), np.intp)
        row_of[matches[:, 1]], row_of[new] = matches[:, 0], np.arange(n_old, len(table))
        shown = table.confirmed[row_of]
        out = detections[shown]
        out.track_id[:] = [table.ids[r] for r in row_of[shown]]
        out.data["predicted"] = np.zeros(len(out), bool)
        self._miss(lost)
        return out

    def predict(self) -> Detections:
        """Carry every confirmed track that matched at the last update one frame forward.

        Returns:
            Their predicted boxes and keypoints, last scores, ids, and ``data["predicted"]``
            True. Neither a hit nor a miss: only `update` confirms or drops tracks.
        """
        self.removed = []
        table = self._table
        table.advance()
        rows = np.flatnonzero(table.confirmed & (table.misses == 0))
        return Detections(
            xyxy=table.box[rows],
            score=table.score[rows],
            keypoints=table.keypoints()[rows],
            track_id=np.array([table.ids[r] for r in rows], dtype=object),
            data={"predicted": np.ones(len(rows), bool)},
        )

    def _match(self, detections: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not len(self._table) or not len(detections):
            return assign(np.zeros((len(self._table), len(detections))), self.config.max_cost)
        cost = match_cost(
            self._table.box, detections.xyxy.astype(np.float64), self.config.iou_weight
        )
        return assign(cost, self.config.max_cost)

    def _start(self, detections: Detections) -> None:
        ids = [f"f{self._count + i:04d}" for i in range(1, len(detections) + 1)]
        self._count += len(ids)
        self._table.append(ids, detections, confirmed=self.config.n_init == 1)

    def _miss(self, lost: np.ndarray) -> None:
        """Count a miss on the ``lost`` rows and drop the tracks it kills."""
        if not len(lost):
            return
        table = self._table
        table.misses[lost] += 1
        dead = np.zeros(len(table), bool)
        dead[lost] = ~table.confirmed[lost] | (table.misses[lost] > self.config.max_misses)
        if dead.any():
            self.removed = [
                t for t, d, c in zip(table.ids, dead, table.confirmed, strict=True) if d and c
            ]
            table.keep(~dead)
