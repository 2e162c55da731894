"""The per-person neutral baseline: the neutral rule, people whose resting outputs carry an
offset read near zero at rest and keep the changes that follow, resets, and the corrected
fields flowing from the pipeline into the messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from affect_perception.labels import AU_NAMES
from affect_perception.runtime.baseline import BaselineConfig, BaselineTracker, is_neutral

FPS = 30.0
AU12 = AU_NAMES.index("AU12")
AU4 = AU_NAMES.index("AU4")
CONFIG = BaselineConfig(enabled=True, min_frames=15, max_frames=300)


class Person:
    """Scripted outputs of one tracked face: a resting face with its own offsets (what a model
    reads off this person at rest), small frame-to-frame noise, and expressions on top."""

    def __init__(self, valence: float, arousal: float, au4: float, seed: int) -> None:
        self.rest = np.zeros(2 + len(AU_NAMES))
        self.rest[:2] = valence, arousal
        self.rest[2:] = 0.1
        self.rest[2 + AU4] = au4
        self.rng = np.random.default_rng(seed)

    def frame(self, smile: float = 0.0) -> np.ndarray:
        """[valence, arousal, AU...]: at rest, or smiling (valence up, AU12 on, aroused)."""
        row = self.rest + self.rng.normal(0, 0.01, len(self.rest))
        row[0] += 0.5 * smile
        row[1] += 0.5 * smile
        row[2 + AU12] = max(row[2 + AU12], 0.9 * smile)
        return row


def step(
    tracker: BaselineTracker,
    ids: list[str],
    rows: list[np.ndarray],
    stamp: float,
    reliable: bool = True,
    pose: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    rows_ = np.stack(rows)
    au = rows_[:, 2:]
    values = {
        "valence": rows_[:, 0],
        "arousal": rows_[:, 1],
        "au_prob": au,
        "au_active": au >= 0.5,
    }
    pose = np.zeros((len(ids), 2)) if pose is None else pose
    return tracker.update(ids, stamp, values, np.full(len(ids), reliable), pose)


@pytest.mark.parametrize(
    ("arousal", "active", "reliable", "speed", "neutral"),
    [
        (0.0, False, True, 0.0, True),
        (0.3, False, True, 0.5, True),  # at both limits
        (0.31, False, True, 0.0, False),  # aroused
        (0.0, True, True, 0.0, False),  # an action unit on
        (0.0, False, False, 0.0, False),  # estimate not reliable
        (0.0, False, True, 0.6, False),  # head moving
        (0.0, False, True, np.nan, True),  # no keypoints: pose unknown, counts as still
        (0.0, False, True, np.inf, False),  # a track's first frame
    ],
)
def test_the_neutral_rule(
    arousal: float, active: bool, reliable: bool, speed: float, neutral: bool
) -> None:
    au_active = np.zeros((1, len(AU_NAMES)), bool)
    au_active[0, AU12] = active
    got = is_neutral(
        np.array([arousal]), au_active, np.array([reliable]), np.array([speed]), BaselineConfig()
    )
    assert got.tolist() == [neutral]


def test_resting_offsets_read_zero_and_later_changes_are_kept() -> None:
    """Two people whose resting faces read differently (one negative with some AU4, one
    positive and aroused): both read about zero at rest once the baseline holds; a smile that
    follows keeps its full size, and does not enter the baseline."""
    tracker = BaselineTracker(CONFIG)
    people = {
        "f0001": Person(-0.3, 0.2, au4=0.35, seed=1),
        "f0002": Person(0.25, -0.2, au4=0.05, seed=2),
    }
    ids = list(people)
    frame = 0

    def run(frames: int, smile: float) -> list[dict[str, np.ndarray]]:
        nonlocal frame
        out = []
        for _ in range(frames):
            rows = [people[t].frame(smile) for t in ids]
            out.append(step(tracker, ids, rows, frame / FPS) | {"raw": np.stack(rows)})
            frame += 1
        return out

    rest = run(60, smile=0.0)
    for k, out in enumerate(rest):
        if k + 1 < CONFIG.min_frames:  # no baseline yet: corrected equals raw
            np.testing.assert_allclose(out["valence_corrected"], out["raw"][:, 0], atol=1e-6)
    last = rest[-1]
    assert last["baseline_frames"].tolist() == [59, 59]  # a first frame never counts
    assert np.all(np.abs(last["valence_corrected"]) < 0.05)
    assert np.all(np.abs(last["arousal_corrected"]) < 0.05)
    assert np.all(last["au_prob_corrected"] < 0.05)  # f0001's resting AU4 reads 0 too
    assert last["raw"][0, 2 + AU4] > 0.3

    smiling = run(30, smile=1.0)[-1]
    assert smiling["baseline_frames"].tolist() == [59, 59]  # expressions are not neutral
    np.testing.assert_allclose(smiling["valence_corrected"], 0.5, atol=0.05)
    np.testing.assert_allclose(smiling["arousal_corrected"], 0.5, atol=0.05)
    # AU12 from 0.1 at rest to 0.9: (0.9 - 0.1) / (1 - 0.1)
    np.testing.assert_allclose(smiling["au_prob_corrected"][:, AU12], 0.8 / 0.9, atol=0.03)
    # the raw values differ between the two people, the corrected ones do not
    assert abs(smiling["raw"][0, 0] - smiling["raw"][1, 0]) > 0.5
    assert abs(smiling["valence_corrected"][0] - smiling["valence_corrected"][1]) < 0.05

    back = run(10, smile=0.0)[-1]
    assert back["baseline_frames"].tolist() == [69, 69]
    assert np.all(np.abs(back["valence_corrected"]) < 0.05)


def test_frames_that_are_not_neutral_do_not_build_a_baseline() -> None:
    tracker = BaselineTracker(CONFIG)
    person = Person(0.3, 0.0, au4=0.1, seed=3)
    for k in range(20):
        out = step(tracker, ["a"], [person.frame()], k / FPS, reliable=False)
    assert out["baseline_frames"].tolist() == [0]
    for k in range(20, 40):  # the head turns fast: 1 eye distance per second
        pose = np.array([[(k - 20) / FPS, 0.5]])
        out = step(tracker, ["a"], [person.frame()], k / FPS, pose=pose)
    assert out["baseline_frames"].tolist() == [0]
    np.testing.assert_allclose(out["valence_corrected"], 0.3, atol=0.05)  # raw, uncorrected


def test_reset_starts_one_persons_baseline_again() -> None:
    tracker = BaselineTracker(CONFIG)
    a, b = Person(0.3, 0.0, 0.1, seed=4), Person(-0.3, 0.0, 0.1, seed=5)
    for k in range(20):
        step(tracker, ["a", "b"], [a.frame(), b.frame()], k / FPS)
    tracker.restart(["a", "unknown"])
    out = step(tracker, ["a", "b"], [a.frame(), b.frame()], 20 / FPS)
    assert out["baseline_frames"].tolist() == [1, 20]
    tracker.restart()
    assert tracker.baseline("b") == (0, None)
    tracker.remove(["a"])
    assert tracker.track_ids == ["b"]
    tracker.reset()
    assert tracker.track_ids == []


def test_after_max_frames_the_baseline_follows_a_slow_drift() -> None:
    tracker = BaselineTracker(BaselineConfig(enabled=True, min_frames=5, max_frames=20))
    for k in range(100):  # resting valence drifts from 0 to 0.5 (e.g. the light changes)
        row = np.zeros(14)
        row[0] = 0.5 * k / 99
        out = step(tracker, ["a"], [row], k / FPS)
    frames, baseline = tracker.baseline("a")
    assert frames == 99
    assert baseline[0] > 0.4  # a plain mean of all 100 would be 0.25
    assert abs(out["valence_corrected"][0]) < 0.1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_frames": 0}, "min_frames"),
        ({"min_frames": 50, "max_frames": 20}, "min_frames <= max_frames"),
        ({"max_arousal": 2.0}, "max_arousal"),
        ({"max_pose_speed": -1.0}, "max_pose_speed"),
    ],
)
def test_invalid_settings_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BaselineConfig(**changes)


def test_the_corrected_fields_flow_from_the_pipeline_to_the_message(
    random_model_dir: Path,
) -> None:
    """The random model's outputs do not track faces, so only the plumbing is checked: with
    the baseline on (and every frame allowed to count), the baseline grows and the corrected
    values differ from the raw ones; off, they equal them."""
    from std_msgs.msg import Header

    from affect_perception.frame_result import FrameResult
    from affect_perception.ros.conversions import face_messages
    from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig
    from affect_perception.runtime.quality import QualityConfig
    from affect_perception.synth.scene import render_video

    # seed 1: the face stays in view and BlazeFace finds it in every frame
    frames = [f.image for f in render_video(1, 14, faces=1, size=(320, 240))]
    permissive = dict(
        au_threshold=1 - 1e-6,
        quality=QualityConfig(0, 0, 0, 0),
        model_dir=random_model_dir,
        intra_op_threads=1,
    )
    on = AffectPipeline(
        PipelineConfig(
            **permissive,
            baseline=BaselineConfig(
                enabled=True, min_frames=1, max_arousal=1.0, max_pose_speed=1e6
            ),
        )
    )
    results: list[FrameResult] = [on.process(rgb, k / FPS) for k, rgb in enumerate(frames)]
    last = results[-1]
    assert len(last.faces) == 1 and bool(last.face_values("reliable")[0])
    frames_in = int(last.face_values("baseline_frames")[0])
    assert frames_in >= 5  # every warm frame after the window filled
    assert not np.allclose(last.face_values("valence_corrected"), last.face_values("valence"))
    (msg,) = face_messages(last, Header())
    assert msg.baseline_frames == frames_in and msg.reliable
    assert msg.valence_corrected == pytest.approx(float(last.face_values("valence_corrected")[0]))
    np.testing.assert_allclose(
        msg.au_probabilities_corrected, last.face_values("au_prob_corrected")[0]
    )
    on.reset_baseline()
    assert int(on.process(frames[-1], 14 / FPS).face_values("baseline_frames")[0]) <= 1

    off = AffectPipeline(PipelineConfig(**permissive))
    for k, rgb in enumerate(frames):
        result = off.process(rgb, k / FPS)
    values = result.face_values
    np.testing.assert_array_equal(values("valence_corrected"), values("valence"))
    np.testing.assert_array_equal(values("au_prob_corrected"), values("au_prob"))
    assert result.face_values("baseline_frames").tolist() == [0]
