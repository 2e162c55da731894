"""An hour of simulated video (108,000 frames at 30 fps) through the pipeline's per-track
stores (`TrackBook`: tracker, feature windows, last outputs, baselines, smoother), with faces
that appear, wander, get missed, vanish and come back, plus false detections: ids keep
counting, and the memory of every store stays bounded and returns to empty. Pure numpy with
synthetic boxes; the bookkeeping is the pipeline's own (`TrackBook.follow` and `push`)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from affect_perception.detections import NUM_KEYPOINTS, Detections
from affect_perception.runtime.baseline import BaselineConfig, BaselineTracker
from affect_perception.runtime.pipeline import TRACK_SLOTS_PER_FACE
from affect_perception.runtime.smoothing import EmaSmoother
from affect_perception.runtime.track_state import TrackBook
from affect_perception.runtime.tracker import FaceTracker, TrackerConfig
from affect_perception.runtime.windows import FeatureWindows

FPS = 30
FRAMES = 3600 * FPS  # one hour
END = 2 * FPS  # frames with nobody in view after the hour
PEOPLE = 6  # who may be in view; the detector keeps the largest MAX_FACES
MAX_FACES = 4
DETECT_EVERY = 2  # a node running the detector every other frame
FRAME = np.array([640.0, 480.0])
MARGIN = 60.0  # face centres stay this far inside the frame
# Mean frames a person stays out of view and in view; per-frame chances that a face in view
# is missed and that a false detection shows up.
MEAN_OUT, MEAN_IN, MISS, FALSE = 90, 300, 0.05, 0.02
WINDOW, FEATURE = 8, {"feat": (4,)}
# Python memory allowed to stay allocated from the last minutes of the hour (traced then only:
# tracing doubles the cost of every allocation).
LAST_MINUTES = 5
MEMORY_SLACK_BYTES = 64 * 1024


def presence(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames,) bool: out and in of view for geometric stretches, starting out of view."""
    runs = rng.geometric(1 / np.tile([MEAN_OUT, MEAN_IN], frames // min(MEAN_OUT, MEAN_IN)))
    states = np.tile([False, True], len(runs) // 2)
    return np.repeat(states, runs)[:frames]


def bounce(walk: np.ndarray, low: float, high: float) -> np.ndarray:
    """A random walk folded back into [low, high] at both ends."""
    span = high - low
    return low + span - np.abs((walk - low) % (2 * span) - span)


class Scene:
    """Every detection of the hour, drawn up front: people who drift about and come and go."""

    def __init__(self, seed: int, frames: int) -> None:
        rng = np.random.default_rng(seed)
        self.present = np.stack([presence(rng, frames) for _ in range(PEOPLE)], axis=1)
        self.present[-END:] = False  # everyone leaves at the end
        self.seen = self.present & (rng.random((frames, PEOPLE)) > MISS)
        start = rng.uniform(MARGIN, FRAME - MARGIN, (PEOPLE, 2))
        walk = start + np.cumsum(rng.normal(0, 2, (frames, PEOPLE, 2)), axis=0)
        self.centre = np.stack(
            [bounce(walk[..., i], MARGIN, FRAME[i] - MARGIN) for i in range(2)], axis=-1
        )
        self.side = np.sort(rng.uniform(50, 160, PEOPLE))[::-1]  # person 0 is the largest
        self.false = (rng.random(frames) < FALSE) & ~np.isin(
            np.arange(frames), np.arange(frames - END, frames)
        )
        self.false_box = rng.uniform(0, 1, (frames, 3)) * [*FRAME, 50] + [0, 0, 30]
        self.jitter = rng.normal(0, 1.5, (frames, PEOPLE + 1, 4)).astype(np.float32)
        self.keypoints = rng.normal(0, 10, (PEOPLE + 1, NUM_KEYPOINTS, 2))

    def detections(self, frame: int) -> Detections:
        """What the detector reports in ``frame``: the largest MAX_FACES faces seen."""
        rows = np.flatnonzero(self.seen[frame])
        centre, side = self.centre[frame, rows], self.side[rows]
        if self.false[frame]:
            x, y, size = self.false_box[frame]
            centre, side = np.vstack([centre, [x, y]]), np.append(side, size)
        order = np.argsort(-side, kind="stable")[:MAX_FACES]
        centre, side = centre[order], side[order, None]
        xyxy = np.hstack([centre - side / 2, centre + side / 2]) + self.jitter[frame, : len(side)]
        return Detections(
            xyxy=xyxy.astype(np.float32),
            score=np.full(len(side), 0.9, np.float32),
            keypoints=(centre[:, None] + self.keypoints[: len(side)]).astype(np.float32),
        )


def test_an_hour_of_faces_coming_and_going_keeps_memory_bounded() -> None:
    frames = FRAMES + END
    scene = Scene(seed=3, frames=frames)
    book = TrackBook(
        FaceTracker(TrackerConfig()),
        FeatureWindows(WINDOW, FEATURE, max_tracks=MAX_FACES * TRACK_SLOTS_PER_FACE, max_gap=5),
        BaselineTracker(BaselineConfig()),
        EmaSmoother(0.5),
    )
    tracker, windows = book.tracker, book.windows
    pool_bytes = windows.nbytes
    features = np.ones((MAX_FACES, 4), np.float32)
    most_tracks = most_windows = newest_id = shown = 0
    for frame in range(frames):
        if frame == FRAMES - LAST_MINUTES * 60 * FPS:
            tracemalloc.start()
        faces = book.follow(scene.detections(frame) if frame % DETECT_EVERY == 0 else None)
        ids = [str(t) for t in faces.track_id]
        book.push(ids, {"feat": features[: len(ids)]})
        outputs = {"va": features[: len(ids), :2]}  # what the temporal model would give
        book.last_outputs.store(ids, book.smoother(ids, outputs, frame / FPS))
        if ids:
            newest_id, shown = max(newest_id, *(int(t[1:]) for t in ids)), shown + len(ids)
        most_tracks = max(most_tracks, tracker.tracks)
        most_windows = max(most_windows, len(windows))
        if frame == FRAMES - 1:
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()

    print(
        f"ids to f{newest_id:04d}, {shown} faces shown, at most {most_tracks} tracks and "
        f"{most_windows} windows, {held} bytes held"
    )  # for RELIABILITY.md (pytest -s)
    assert newest_id > 300 and shown > FRAMES  # faces really came and went, many times
    # tentative tracks die at their first miss, confirmed ones after max_misses updates
    assert most_tracks <= MAX_FACES * (tracker.config.max_misses + 2)
    assert most_windows <= MAX_FACES * TRACK_SLOTS_PER_FACE
    assert windows.nbytes == pool_bytes  # the pool never grows
    assert held < MEMORY_SLACK_BYTES, f"{held} bytes still held from the last {LAST_MINUTES} min"
    # two seconds after everyone left: nothing is held any more
    assert tracker.tracks == 0 and len(windows) == 0
    assert len(book.last_outputs) == len(book.smoother) == 0
