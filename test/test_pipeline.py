"""AffectPipeline end to end on real face photos: ids, warm windows, ranges, stages, counters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig

WINDOW = 8  # the random_model_dir fixture's window


def astronaut_clip(frames: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The astronaut photo drifting across a 640×480 frame while the light changes."""
    photo = cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    clip = []
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 40, np.uint8)
        x, y = 100 + 4 * i, 60 + int(10 * np.sin(i / 5))
        frame[y : y + 320, x : x + 320] = photo
        gain = 0.75 + 0.35 * (i / max(frames - 1, 1))  # lighting ramps up over the clip
        clip.append(np.clip(frame * gain, 0, 255).astype(np.uint8))
    return clip


@pytest.fixture(scope="module")
def pipeline(random_model_dir: Path) -> AffectPipeline:
    return AffectPipeline(PipelineConfig(model_dir=random_model_dir, intra_op_threads=1))


def test_one_stable_face_warm_after_the_window(pipeline: AffectPipeline) -> None:
    pipeline.reset()
    results = [pipeline.process(frame, stamp=i / 30) for i, frame in enumerate(astronaut_clip(24))]
    with_face = [r for r in results if len(r.faces)]
    # confirmed after n_init detections, then seen in every frame
    n_init = pipeline.config.tracker.n_init
    assert len(with_face) == len(results) - (n_init - 1)
    ids = {tid for r in with_face for tid in r.faces.track_id}
    assert len(ids) == 1
    fills = [int(r.faces.data["window_fill"][0]) for r in with_face]
    assert fills == [min(i + 1, WINDOW) for i in range(len(with_face))]
    assert not with_face[WINDOW - 2].warm[0] and with_face[WINDOW - 1].warm[0]
    last = with_face[-1]
    box = last.faces.xyxy[0]
    assert 100 + 4 * 23 < box[2] and box[0] < 100 + 4 * 23 + 320  # inside the moved photo
    d = last.faces.data
    assert -1 <= d["valence"][0] <= 1 and -1 <= d["arousal"][0] <= 1
    for key in ("au_prob", "emi", "ah_prob"):
        assert np.all((d[key] >= 0) & (d[key] <= 1)), key
    assert d["au_active"].dtype == bool and d["au_active"].shape == (1, 12)
    assert last.model_id == pipeline.info.model_id and last.window_size == WINDOW
    assert last.stamp == pytest.approx(23 / 30)


def test_stages_are_timed_and_counted(pipeline: AffectPipeline) -> None:
    before = pipeline.counters.frames
    result = pipeline.process(astronaut_clip(1)[0], stamp=5.0)
    for stage in ("detect", "align", "encode", "window", "temporal", "total"):
        assert result.timings_ms[stage] >= 0, stage
    assert result.timings_ms["total"] >= result.timings_ms["encode"]
    assert pipeline.counters.frames == before + 1
    p50, p95 = pipeline.counters.latency_percentiles()
    assert 0 < p50 <= p95


def test_frame_without_faces(pipeline: AffectPipeline) -> None:
    pipeline.reset()
    result = pipeline.process(data.chelsea(), stamp=0.0)
    assert len(result.faces) == 0 and result.faces.data["valence"].shape == (0,)


def test_detect_and_temporal_every_k_frames(random_model_dir: Path) -> None:
    pipeline = AffectPipeline(
        PipelineConfig(
            model_dir=random_model_dir, intra_op_threads=1, detect_every=3, temporal_every=2
        )
    )
    results = [pipeline.process(f, stamp=i / 30) for i, f in enumerate(astronaut_clip(15))]
    tracked = [r for r in results if len(r.faces)]
    assert len({t for r in tracked for t in r.faces.track_id}) == 1
    predicted = [bool(r.faces.data["predicted"][0]) for r in tracked]
    assert any(predicted) and not all(predicted)
    # odd frames reuse the last temporal output of the face
    odd = [r for r in tracked if round(r.stamp * 30) % 2 == 1]
    even_before = {round(r.stamp * 30): r for r in tracked}
    for r in odd:
        prev = even_before.get(round(r.stamp * 30) - 1)
        if prev is not None:
            assert r.faces.data["valence"][0] == prev.faces.data["valence"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("detect_every", 0),  # must run at least every frame
        ("temporal_every", 0),
        ("max_faces", 0),  # nothing would be processed
        ("au_threshold", 1.0),  # thresholds lie strictly inside (0, 1)
        ("ah_threshold", 0.0),
        ("ema_alpha", 1.5),
        ("max_gap", -1),
    ],
)
def test_invalid_config_is_rejected(random_model_dir: Path, field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        PipelineConfig(model_dir=random_model_dir, **{field: value})


def test_rejects_frames_that_are_not_rgb8(pipeline: AffectPipeline) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        pipeline.process(np.zeros((10, 10), np.uint8), stamp=0.0)


def test_reconfigure_changes_dynamic_fields_only(random_model_dir: Path) -> None:
    from dataclasses import replace

    pipeline = AffectPipeline(PipelineConfig(model_dir=random_model_dir, intra_op_threads=1))
    pipeline.reconfigure(replace(pipeline.config, ah_threshold=0.9, ema_alpha=0.3))
    assert pipeline.config.ah_threshold == 0.9 and pipeline.smoother is not None
    with pytest.raises(ValueError, match=r"\['detect_every'\] cannot change while running"):
        pipeline.reconfigure(replace(pipeline.config, detect_every=2))
    assert pipeline.config.detect_every == 1


def three_places_clip(frames_per_place: tuple[int, ...]) -> list[np.ndarray]:
    """The astronaut photo at the left, the middle, the right, then the left again (one place
    per span of frames), the light changing every frame so no two crops are alike."""
    photo = cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    clip = []
    for place, count in enumerate(frames_per_place):
        for _ in range(count):
            frame = np.full((400, 1000, 3), 40, np.uint8)
            x = (20, 340, 660, 20)[place]
            frame[40:360, x : x + 320] = photo
            gain = 1.05 - 0.01 * len(clip)
            clip.append(np.clip(frame * gain, 0, 255).astype(np.uint8))
    return clip


def test_last_outputs_do_not_outlive_an_evicted_window(random_model_dir: Path) -> None:
    """Face A's window is evicted (2 windows for max_faces 1) while A stays tracked; when A is
    seen again on a frame without the temporal model, its outputs are computed anew from its
    new window instead of reusing those of the evicted one."""
    pipeline = AffectPipeline(
        PipelineConfig(
            model_dir=random_model_dir, intra_op_threads=1, max_faces=1, temporal_every=2
        )
    )
    # A: frames 0-5, B: 6-11, C: 12-14 (confirmed at 14: evicts A's window), A again: 15
    results = [
        pipeline.process(f, stamp=i / 30) for i, f in enumerate(three_places_clip((6, 6, 3, 1)))
    ]
    ids = [r.faces.track_id.tolist() for r in results]
    assert ids[5] == ids[15] == ["f0001"] and ids[14] == ["f0003"]  # A is back on frame 15
    again = results[15].faces.data
    assert again["window_fill"].tolist() == [1]  # a new window
    assert not np.array_equal(again["valence"], results[5].faces.data["valence"])
    assert not np.array_equal(again["au_prob"], results[5].faces.data["au_prob"])
