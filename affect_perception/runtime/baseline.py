"""Per-person neutral baseline: each track's outputs at rest, and its outputs relative to them.

People differ at rest: one face reads slightly negative, another shows some AU4 all the time.
`BaselineTracker` keeps, per track, the mean valence, arousal and AU probabilities over the
frames :func:`is_neutral` accepts, and returns the outputs corrected by it:

- valence and arousal: ``value - baseline``, clipped to [-1, 1];
- AU probabilities: ``(p - baseline) / (1 - baseline)``, clipped to [0, 1], so the person's
  resting level reads 0 and certainty still reads 1.

The baseline is subtracted once it holds ``min_frames`` neutral frames; before that the
corrected values equal the raw ones (``baseline_frames`` tells which). It is the running mean
of the first ``max_frames`` neutral frames, then an exponential average with weight
``1 / max_frames``, so it follows slow drifts (lighting, fatigue). Pure numpy, no ROS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from affect_perception.labels import AU_NAMES

# Smallest 1 - baseline an AU probability is divided by (a person whose AU is always on).
MIN_AU_HEADROOM = 1e-3


@dataclass
class BaselineConfig:
    """Settings of the neutral baseline.

    Attributes:
        enabled: keep baselines and correct the outputs; off: corrected values equal the raw.
        min_frames: neutral frames a baseline needs before it is subtracted.
        max_frames: neutral frames averaged before the baseline turns into an exponential
            average of that horizon.
        max_arousal: highest arousal a neutral frame may have.
        max_pose_speed: fastest head movement a neutral frame may have, in eye distances per
            second of the nose position (:func:`affect_perception.runtime.quality.head_pose`).
    """

    enabled: bool = False
    min_frames: int = 15
    max_frames: int = 300
    max_arousal: float = 0.3
    max_pose_speed: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.min_frames <= self.max_frames:
            raise ValueError(
                "baseline needs 1 <= min_frames <= max_frames, got "
                f"{self.min_frames} and {self.max_frames}"
            )
        if not -1 <= self.max_arousal <= 1 or self.max_pose_speed < 0:
            raise ValueError(
                "baseline needs max_arousal in [-1, 1] and max_pose_speed >= 0, "
                f"got {self.max_arousal} and {self.max_pose_speed}"
            )


def is_neutral(
    arousal: np.ndarray,
    au_active: np.ndarray,
    reliable: np.ndarray,
    pose_speed: np.ndarray,
    config: BaselineConfig,
) -> np.ndarray:
    """(n,) bool: the frames that count as the person at rest. The one rule:

    - the estimate is ``reliable`` (warm window, big, frontal and sharp enough face,
      :func:`affect_perception.runtime.quality.is_reliable`),
    - arousal at or below ``config.max_arousal`` (calm),
    - no action unit active (after the pipeline's AU thresholds),
    - the head is still: pose speed at or below ``config.max_pose_speed`` (a NaN speed, from a
      detector without keypoints, counts as still; a track's first frame has an infinite one).

    Args:
        arousal: (n,) arousal.
        au_active: (n, 12) bool AU decisions.
        reliable: (n,) bool.
        pose_speed: (n,) eye distances per second.
        config: the thresholds.
    """
    still = np.isnan(pose_speed) | (pose_speed <= config.max_pose_speed)
    return (
        np.asarray(reliable, bool)
        & (np.asarray(arousal) <= config.max_arousal)
        & ~np.asarray(au_active, bool).any(axis=1)
        & still
    )


@dataclass
class _Track:
    """One person's baseline: neutral frames seen, their mean [valence, arousal, AU...], and
    the pose and stamp of the track's last frame (for the pose speed)."""

    frames: int = 0
    mean: np.ndarray | None = None
    pose: np.ndarray | None = None
    stamp: float = float("nan")


class BaselineTracker:
    """Neutral baselines per track, and the outputs corrected by them."""

    def __init__(self, config: BaselineConfig) -> None:
        self.config = config
        self._tracks: dict[str, _Track] = {}

    def __len__(self) -> int:
        """Tracks with state."""
        return len(self._tracks)

    @property
    def track_ids(self) -> list[str]:
        """Tracks with state."""
        return list(self._tracks)

    def baseline(self, track_id: str) -> tuple[int, np.ndarray | None]:
        """(neutral frames seen, baseline [valence, arousal, 12 AU probabilities] or None)."""
        track = self._tracks.get(track_id, _Track())
        return track.frames, None if track.mean is None else track.mean.copy()

    def update(
        self,
        track_ids: Sequence[str],
        stamp: float,
        values: dict[str, np.ndarray],
        reliable: np.ndarray,
        pose: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Add this frame's neutral faces to their baselines; the corrected outputs.

        Args:
            track_ids: n track ids.
            stamp: the frame's time in seconds.
            values: ``valence``, ``arousal`` (n,), ``au_prob`` (n, 12), ``au_active``
                (n, 12) bool.
            reliable: (n,) bool quality decision.
            pose: (n, 2) head pose (NaN without keypoints).

        Returns:
            ``valence_corrected``, ``arousal_corrected`` (n,) float32, ``au_prob_corrected``
            (n, 12) float32 and ``baseline_frames`` (n,) int64.
        """
        ids = list(track_ids)
        au = np.asarray(values["au_prob"], np.float64).reshape(-1, len(AU_NAMES))
        raw = np.column_stack(
            [
                np.asarray(values["valence"], np.float64),
                np.asarray(values["arousal"], np.float64),
                au,
            ]
        )
        tracks = [self._tracks.setdefault(t, _Track()) for t in ids]
        speed = np.array(
            [
                self._pose_speed(track, np.asarray(p, np.float64), stamp)
                for track, p in zip(tracks, pose, strict=True)
            ],
            np.float64,
        )
        neutral = is_neutral(values["arousal"], values["au_active"], reliable, speed, self.config)
        corrected = raw.copy()
        frames = np.zeros(len(ids), np.int64)
        for i, track in enumerate(tracks):
            if neutral[i] and np.all(np.isfinite(raw[i])):
                self._add(track, raw[i])
            frames[i] = track.frames
            if track.frames >= self.config.min_frames:
                corrected[i] = _correct(raw[i], track.mean)
        return {
            "valence_corrected": corrected[:, 0].astype(np.float32),
            "arousal_corrected": corrected[:, 1].astype(np.float32),
            "au_prob_corrected": corrected[:, 2:].astype(np.float32),
            "baseline_frames": frames,
        }

    def restart(self, track_ids: Sequence[str] | None = None) -> None:
        """Start these tracks' baselines again (None: every track's)."""
        for track in list(self._tracks) if track_ids is None else track_ids:
            if track in self._tracks:  # the last pose stays: the next frame may count
                self._tracks[track].frames, self._tracks[track].mean = 0, None

    def remove(self, track_ids: Sequence[str]) -> None:
        """Forget these tracks (unknown ids are ignored)."""
        for track in track_ids:
            self._tracks.pop(track, None)

    def reset(self) -> None:
        """Forget every track."""
        self._tracks.clear()

    def _add(self, track: _Track, row: np.ndarray) -> None:
        track.frames += 1
        if track.mean is None:
            track.mean = row.copy()
        else:
            track.mean += (row - track.mean) / min(track.frames, self.config.max_frames)

    @staticmethod
    def _pose_speed(track: _Track, pose: np.ndarray, stamp: float) -> float:
        """Eye distances per second since the track's last frame (inf on its first frame or
        when time did not advance); remembers this frame's pose and stamp."""
        last_pose, last_stamp = track.pose, track.stamp
        track.pose, track.stamp = pose, stamp
        if last_pose is None or not stamp > last_stamp:
            return float("inf")
        return float(np.linalg.norm(pose - last_pose) / (stamp - last_stamp))


def _correct(raw: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """[valence, arousal, AU...] relative to the baseline (see the module docstring)."""
    out = np.empty_like(raw)
    out[:2] = np.clip(raw[:2] - baseline[:2], -1, 1)
    headroom = np.maximum(1 - baseline[2:], MIN_AU_HEADROOM)
    out[2:] = np.clip((raw[2:] - baseline[2:]) / headroom, 0, 1)
    return out
