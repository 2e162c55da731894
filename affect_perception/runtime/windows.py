"""`FeatureWindows`: per-face ring buffers of the last W encoder outputs, in one fixed pool.

Every buffer is allocated up front for ``max_tracks`` faces, so memory never grows with the
number of faces a run sees. A face that the tracker misses for a frame repeats its last
features (an explicit gap) for up to ``max_gap`` frames; after that its window restarts empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FeatureWindows:
    """Temporal windows of encoder features, one per confirmed track.

    Rules:
        - fill: frames held, at most ``window``; a window is warm when full.
        - real fill: frames in the window that were pushed, not repeated for a gap.
        - a missed frame repeats the newest frame while the track has missed at most
          ``max_gap`` frames in a row; the next miss empties the window (fill 0), and the
          track's next push starts it again.
        - the pool holds ``max_tracks`` windows. When it is full, a new track evicts the
          stalest one, the track whose last pushed frame is oldest, never one pushed in the
          same call; its id is listed in `evicted` until the next push.
        - `gather` left-pads a cold window (fill < window) with its oldest frame, so the
          temporal model can run on every face that has at least one frame.

    Args:
        window: frames per window (W).
        feature_shapes: feature name -> shape of one frame's features, e.g. (C, S, S).
        max_tracks: windows in the pool.
        max_gap: missed frames in a row bridged by repeating the last features.
        dtype: dtype of the pool and of `gather`'s output.
    """

    def __init__(
        self,
        window: int,
        feature_shapes: dict[str, tuple[int, ...]],
        max_tracks: int,
        max_gap: int,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        if window < 1 or max_tracks < 1 or max_gap < 0 or not feature_shapes:
            raise ValueError(
                "FeatureWindows needs window >= 1, max_tracks >= 1, max_gap >= 0 "
                f"and at least one feature; got window={window}, max_tracks="
                f"{max_tracks}, max_gap={max_gap}, features={list(feature_shapes)}"
            )
        self.window, self.max_tracks, self.max_gap = window, max_tracks, max_gap
        self.feature_shapes = {k: tuple(v) for k, v in feature_shapes.items()}
        self._pool = {
            k: np.zeros((max_tracks, window, *s), dtype) for k, s in self.feature_shapes.items()
        }
        self._out = {k: np.empty_like(v) for k, v in self._pool.items()}  # gather's output
        self._head = np.zeros(max_tracks, np.int64)  # where the next frame goes
        self._fill = np.zeros(max_tracks, np.int64)
        self._gap = np.zeros(max_tracks, np.int64)  # misses in a row
        self._real = np.zeros((max_tracks, window), bool)  # frame pushed, not repeated
        self._last_push = np.zeros(max_tracks, np.int64)  # push call of the newest real frame
        self._pushes = 0
        self._slot: dict[str, int] = {}
        self._free = list(range(max_tracks - 1, -1, -1))  # pop() hands out slot 0 first
        self.evicted: list[str] = []

    @property
    def track_ids(self) -> list[str]:
        """Tracks that hold a window, in the order they got it."""
        return list(self._slot)

    @property
    def nbytes(self) -> int:
        """Bytes held by the pool, the output buffers and the bookkeeping arrays."""
        arrays = [
            *self._pool.values(),
            *self._out.values(),
            self._head,
            self._fill,
            self._gap,
            self._real,
            self._last_push,
        ]
        return sum(a.nbytes for a in arrays)

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._slot

    def push(self, track_ids: Sequence[str], features: dict[str, np.ndarray]) -> None:
        """Append one frame of features per track; unknown tracks get a window first.

        Args:
            track_ids: n distinct track ids.
            features: feature name -> (n, *shape) array, row i for ``track_ids[i]``.
        """
        ids = list(track_ids)
        self._check_push(ids, features)
        self.evicted = []
        self._pushes += 1
        slots = np.array([self._slot_for(t, keep=ids) for t in ids], dtype=np.intp)
        head = self._head[slots]
        for name, pool in self._pool.items():
            pool[slots, head] = features[name]
        self._real[slots, head] = True
        self._advance(slots)
        self._gap[slots] = 0
        self._last_push[slots] = self._pushes

    def mark_missed(self, track_ids: Sequence[str]) -> None:
        """Record a frame without these tracks: repeat their last frame or restart the window.

        Ids without a window, or with an empty one, are ignored.
        """
        slots = self._slots([t for t in track_ids if t in self._slot])
        slots = slots[self._fill[slots] > 0]
        bridged = self._gap[slots] < self.max_gap
        self._clear(slots[~bridged])
        slots = slots[bridged]
        head = self._head[slots]
        for pool in self._pool.values():
            pool[slots, head] = pool[slots, (head - 1) % self.window]
        self._real[slots, head] = False
        self._advance(slots)
        self._gap[slots] += 1

    def remove(self, track_ids: Sequence[str]) -> None:
        """Free the windows of these tracks; unknown ids are ignored."""
        for track in track_ids:
            slot = self._slot.pop(track, None)
            if slot is not None:
                self._clear(np.array([slot]))
                self._free.append(slot)

    def reset(self) -> None:
        """Free every window."""
        self.remove(self.track_ids)

    def fill(self, track_ids: Sequence[str]) -> np.ndarray:
        """(n,) int frames held per track, at most W (0 for a track without a window)."""
        return self._per_track(track_ids, self._fill)

    def real_fill(self, track_ids: Sequence[str]) -> np.ndarray:
        """(n,) int frames in the window that were pushed rather than repeated."""
        return self._per_track(track_ids, self._real.sum(axis=1))

    def warm(self, track_ids: Sequence[str]) -> np.ndarray:
        """(n,) bool: the window is full."""
        return self.fill(track_ids) >= self.window

    def gather(self, track_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The windows of these tracks, oldest frame first, cold ones left-padded.

        Returns:
            Feature name -> (n, W, *shape) contiguous array. The arrays are views of a buffer
            that the next `gather` overwrites: copy them to keep them.

        Raises:
            ValueError: a track has no window or an empty one (push it first).
        """
        ids = list(track_ids)
        empty = [t for t in ids if t not in self._slot or not self._fill[self._slot[t]]]
        if empty:
            raise ValueError(f"tracks {empty} hold no frames; push their features first")
        slots = self._slots(ids)
        # frame j of the output is (W - 1 - j) frames old, or the oldest held one
        age = np.minimum(np.arange(self.window - 1, -1, -1), self._fill[slots, None] - 1)
        rows = slots[:, None] * self.window + (self._head[slots, None] - 1 - age) % self.window
        out = {}
        for name, pool in self._pool.items():
            flat = pool.reshape(self.max_tracks * self.window, *self.feature_shapes[name])
            # rows are in range by construction; "clip" lets numpy write straight into out
            # (the default "raise" goes through a temporary: 3x slower for one 1.6 MB window)
            out[name] = np.take(flat, rows, axis=0, out=self._out[name][: len(ids)], mode="clip")
        return out

    def _check_push(self, ids: list[str], features: dict[str, np.ndarray]) -> None:
        if len(set(ids)) != len(ids):
            raise ValueError(f"track ids must be distinct, got {ids}")
        if len(ids) > self.max_tracks:
            raise ValueError(
                f"{len(ids)} tracks in one frame but the pool holds "
                f"{self.max_tracks}; raise max_tracks or cap faces per frame"
            )
        if set(features) != set(self._pool):
            raise ValueError(f"features must be {sorted(self._pool)}, got {sorted(features)}")
        for name, shape in self.feature_shapes.items():
            if np.shape(features[name]) != (len(ids), *shape):
                raise ValueError(
                    f"features[{name!r}] must be {(len(ids), *shape)}, "
                    f"got {np.shape(features[name])}"
                )

    def _slot_for(self, track: str, keep: list[str]) -> int:
        """The track's slot; a free one, or the stalest track's outside ``keep``, if new."""
        if track in self._slot:
            return self._slot[track]
        if not self._free:
            stalest = min(
                (t for t in self._slot if t not in keep),
                key=lambda t: self._last_push[self._slot[t]],
            )
            self.remove([stalest])
            self.evicted.append(stalest)
        self._slot[track] = self._free.pop()
        return self._slot[track]

    def _slots(self, ids: list[str]) -> np.ndarray:
        return np.array([self._slot[t] for t in ids], dtype=np.intp)

    def _advance(self, slots: np.ndarray) -> None:
        self._head[slots] = (self._head[slots] + 1) % self.window
        self._fill[slots] = np.minimum(self._fill[slots] + 1, self.window)

    def _clear(self, slots: np.ndarray) -> None:
        self._head[slots], self._fill[slots], self._gap[slots] = 0, 0, 0
        self._real[slots] = False

    def _per_track(self, track_ids: Sequence[str], values: np.ndarray) -> np.ndarray:
        return np.array(
            [values[self._slot[t]] if t in self._slot else 0 for t in track_ids], dtype=np.int64
        )
