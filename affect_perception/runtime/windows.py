"""`FeatureWindows`: per-face ring buffers of the last W encoder outputs, in one fixed pool.

Every buffer is allocated up front for ``max_tracks`` faces, so memory never grows with the
number of faces a run sees. A face that the tracker misses for a frame repeats its last
features (an explicit gap) for up to ``max_gap`` frames; after that its window restarts empty.

With a time patch T > 1 the entries pushed are a frame's partial patch embeddings (the folded
encoder's output, :mod:`.fold`) and the windows hold whole tokens: the token of the T frames
ending at frame n is the sum over offsets k of slice k of frame ``n - T + 1 + k``. Each frame's
slices are added once, into running sums of the T tokens it belongs to, so a frame's token is
complete when its last frame arrives, and `gather` hands the temporal model the W/T tokens of
the window (every T-th frame's) instead of W frames of T slices each.
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
          temporal model can run on every face that has at least one frame. With T > 1 the
          frames before the first are that first frame too, in every token they fall in.

    Args:
        window: frames per window (W).
        feature_shapes: feature name -> shape of one frame's pushed entry, e.g. (C, S, S);
            with T > 1, (T·d, ...) partial embeddings, slice k in channels k·d to (k+1)·d.
        max_tracks: windows in the pool.
        max_gap: missed frames in a row bridged by repeating the last features.
        dtype: dtype of the pool and of `gather`'s output.
        time_patch: frames per token T (divides W); 1 keeps the entries as they are pushed.
    """

    def __init__(
        self,
        window: int,
        feature_shapes: dict[str, tuple[int, ...]],
        max_tracks: int,
        max_gap: int,
        dtype: np.dtype | type = np.float32,
        time_patch: int = 1,
    ) -> None:
        self.feature_shapes = {k: tuple(v) for k, v in feature_shapes.items()}
        if (
            window < 1
            or max_tracks < 1
            or max_gap < 0
            or not feature_shapes
            or time_patch < 1
            or window % time_patch
            or any(not s or s[0] % time_patch for s in self.feature_shapes.values())
        ):
            raise ValueError(
                "FeatureWindows needs window >= 1, max_tracks >= 1, max_gap >= 0, at least "
                "one feature and a time patch dividing the window and every entry's first "
                f"axis; got window={window}, max_tracks={max_tracks}, max_gap={max_gap}, "
                f"time_patch={time_patch}, features={self.feature_shapes}"
            )
        self.window, self.max_tracks, self.max_gap = window, max_tracks, max_gap
        self.time_patch = time_patch
        # shape of one token: an entry's slice
        self.token_shapes = {
            k: (s[0] // time_patch, *s[1:]) for k, s in self.feature_shapes.items()
        }
        self._pool = {
            k: np.zeros((max_tracks, window, *s), dtype) for k, s in self.token_shapes.items()
        }
        # the newest entry per track (a gap repeats it) and, with T > 1, the running sums of
        # the T tokens still open, at ring index (token's last frame) % T
        self._last = {k: np.zeros((max_tracks, *s), dtype) for k, s in self.feature_shapes.items()}
        self._sums = {
            k: np.zeros((max_tracks, time_patch, *s), dtype)
            for k, s in self.token_shapes.items()
            if time_patch > 1
        }
        self._out = {  # gather's output
            k: np.empty((max_tracks, window // time_patch, *s), dtype)
            for k, s in self.token_shapes.items()
        }
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
            *self._last.values(),
            *self._sums.values(),
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
        self._append(slots, features, real=True)
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
        self._append(slots, {name: last[slots] for name, last in self._last.items()}, real=False)
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
            Feature name -> (n, W/T, *token_shapes[name]) contiguous array: the tokens ending
            at every T-th frame back from the newest (with T = 1 the W entries). The arrays
            are views of a buffer that the next `gather` overwrites: copy them to keep them.

        Raises:
            ValueError: a track has no window or an empty one (push it first).
        """
        ids = list(track_ids)
        empty = [t for t in ids if t not in self._slot or not self._fill[self._slot[t]]]
        if empty:
            raise ValueError(f"tracks {empty} hold no frames; push their features first")
        slots = self._slots(ids)
        # token j of the output ends (W/T - 1 - j)·T frames ago, or at the oldest held frame
        ages = np.arange(self.window - self.time_patch, -1, -self.time_patch)
        age = np.minimum(ages, self._fill[slots, None] - 1)
        rows = slots[:, None] * self.window + (self._head[slots, None] - 1 - age) % self.window
        out = {}
        for name, pool in self._pool.items():
            flat = pool.reshape(self.max_tracks * self.window, *self.token_shapes[name])
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

    def _append(self, slots: np.ndarray, entries: dict[str, np.ndarray], real: bool) -> None:
        """Write one frame per slot (entries row i for slots[i]) and advance the windows."""
        head = self._head[slots]
        first = self._fill[slots] == 0
        for name, pool in self._pool.items():
            self._last[name][slots] = entries[name]
            pool[slots, head] = self._token(name, slots, head, first, entries[name])
        self._real[slots, head] = real
        self._head[slots] = (head + 1) % self.window
        self._fill[slots] = np.minimum(self._fill[slots] + 1, self.window)

    def _token(
        self,
        name: str,
        slots: np.ndarray,
        head: np.ndarray,
        first: np.ndarray,
        entry: np.ndarray,
    ) -> np.ndarray:
        """Add a frame's slices to the tokens it belongs to; the token it completes.

        The frame at ``head`` gives slice T - 1 - j to the token ending j frames later; a
        window's first frame also stands in for the frames before it (slices 0 to T - 1 - j).
        """
        steps = self.time_patch
        if steps == 1:
            return entry
        slices = entry.reshape(len(slots), steps, *self.token_shapes[name])
        given = slices[:, ::-1]
        if first.any():
            given = given.copy()
            given[first] = np.cumsum(slices[first], axis=1)[:, ::-1]
        sums = self._sums[name]
        ring = (head[:, None] + np.arange(steps)) % steps
        sums[slots[:, None], ring] += given
        done = head % steps
        token = sums[slots, done]
        sums[slots, done] = 0
        return token

    def _clear(self, slots: np.ndarray) -> None:
        self._head[slots], self._fill[slots], self._gap[slots] = 0, 0, 0
        self._real[slots] = False
        for sums in self._sums.values():
            sums[slots] = 0

    def _per_track(self, track_ids: Sequence[str], values: np.ndarray) -> np.ndarray:
        return np.array(
            [values[self._slot[t]] if t in self._slot else 0 for t in track_ids], dtype=np.int64
        )
