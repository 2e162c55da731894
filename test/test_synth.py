"""The synthetic face-video generator: determinism, label ranges and rules, AU drawing, layout."""

from __future__ import annotations

import itertools
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest

from affect_perception.cli import main
from affect_perception.labels import AU_MISSING, AU_NAMES, EMI_NAMES, VA_MISSING
from affect_perception.synth import dataset, labels, trajectories
from affect_perception.synth.face import Identity, draw_face
from affect_perception.synth.scene import SynthFrame, Video, render_video
from affect_perception.synth.strip import make_strip
from affect_perception.synth.trajectories import FaceState, FaceTrack, simulate_face


def _frames(seed: int, frames: int = 4, faces: int = 1) -> list[SynthFrame]:
    return list(render_video(seed, frames, faces=faces))


def _same(a: list[SynthFrame], b: list[SynthFrame]) -> bool:
    return all(
        np.array_equal(x.image, y.image)
        and all(
            np.array_equal(f.box, g.box)
            and np.array_equal(f.au, g.au)
            and np.array_equal(f.emi, g.emi)
            and f.ah == g.ah
            and f.valence == g.valence
            for f, g in zip(x.faces, y.faces, strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_same_frames_and_labels() -> None:
    assert _same(_frames(3), _frames(3))


def test_different_seed_gives_different_frames() -> None:
    a, b = _frames(3, 2), _frames(4, 2)
    assert not np.array_equal(a[0].image, b[0].image)
    assert a[0].faces[0].valence != b[0].faces[0].valence


def test_short_video_is_the_start_of_a_long_one() -> None:
    long, short = Video(11, 40, faces=2), Video(11, 12, faces=2)
    assert _same([long.render(i) for i in range(12)], list(short))


# --- frames and labels --------------------------------------------------------------------


@pytest.mark.parametrize("faces", [1, 3])
def test_frames_carry_labels_in_range(faces: int) -> None:
    video = Video(5, 20, faces=faces, size=(480, 360))
    for frame in itertools.islice(video, 0, 20, 3):
        assert frame.image.shape == (360, 480, 3) and frame.image.dtype == np.uint8
        assert frame.stamp == pytest.approx(frame.index / 30.0)
        assert [f.person for f in frame.faces] == list(range(faces))
        for face in frame.faces:
            assert face.box.shape == (4,) and face.keypoints.shape == (6, 2)
            assert face.box[0] < face.box[2] and face.box[1] < face.box[3]
            assert -1 <= face.valence <= 1 and -1 <= face.arousal <= 1
            assert face.au.shape == (len(AU_NAMES),) and set(face.au) <= {0, 1}
            assert face.emi.shape == (len(EMI_NAMES),)
            assert np.all((face.emi >= 0) & (face.emi <= 1))
            assert face.ah in (0, 1) and 0 <= face.visible <= 1


def test_keypoints_follow_blazeface_order() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    state = FaceState(center=(320, 240), height=200)
    geo = draw_face(image, Identity.sample(np.random.default_rng(0)), state)
    right_eye, left_eye, nose, mouth, right_ear, left_ear = geo.keypoints
    # the person's right is the image's left for a face looking at the camera
    assert right_ear[0] < right_eye[0] < nose[0] < left_eye[0] < left_ear[0]
    assert right_eye[1] < nose[1] < mouth[1]
    x1, y1, x2, y2 = geo.box
    assert x1 < right_eye[0] and left_eye[0] < x2 and y1 < right_eye[1] and mouth[1] < y2


@pytest.mark.parametrize("faces", [2, 3, 4])
def test_several_faces_never_overlap(faces: int) -> None:
    video = Video(21, 60, faces=faces)
    for index in range(0, 60, 2):
        state_boxes = [f.box for f in video.render(index).faces]
        for a, b in itertools.combinations(state_boxes, 2):
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1])


def test_va_trajectories_cover_the_range_smoothly() -> None:
    tracks = [simulate_face(seed, 300, 30.0, (640, 480)) for seed in range(20)]
    values = np.concatenate([np.stack([t.valence, t.arousal], 1) for t in tracks])
    assert values.min() < -0.8 and values.max() > 0.8
    assert max(np.abs(np.diff(t.valence)).max() for t in tracks) < 0.1  # no jumps


def test_aus_co_occur_as_in_real_faces() -> None:
    tracks = [simulate_face(seed, 300, 30.0, (640, 480)) for seed in range(40)]
    au = np.concatenate([labels.au_labels(t) for t in tracks]).astype(float)
    valence = np.concatenate([t.valence for t in tracks])
    rates = au.mean(axis=0)
    assert np.all((rates > 0.1) & (rates < 0.5)), dict(zip(AU_NAMES, rates, strict=True))
    corr = np.corrcoef(au.T)
    k = {name: i for i, name in enumerate(AU_NAMES)}
    for a, b in [("AU6", "AU12"), ("AU1", "AU2"), ("AU4", "AU7"), ("AU25", "AU26")]:
        assert corr[k[a], k[b]] > 0.3, (a, b)
    assert np.corrcoef(au[:, k["AU12"]], valence)[0, 1] > 0.5
    assert np.corrcoef(au[:, k["AU4"]], valence)[0, 1] < -0.4


# --- each AU acts on its own part of the face ------------------------------------------------

# face band each AU may change: "upper" (brows, forehead), "eyes" (eyes, cheeks) or "lower"
# (nose wings, mouth, chin)
AU_REGIONS = {
    "AU1": "upper",
    "AU2": "upper",
    "AU4": "upper",
    "AU6": "eyes",
    "AU7": "eyes",
    "AU10": "lower",
    "AU12": "lower",
    "AU15": "lower",
    "AU23": "lower",
    "AU24": "lower",
    "AU25": "lower",
    "AU26": "lower",
}


def _render_state(au: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.full((400, 400, 3), 90, np.uint8)
    state = FaceState(center=(200, 190), height=240, au=au)
    geo = draw_face(image, Identity.sample(np.random.default_rng(1)), state)
    return image, geo.keypoints


@pytest.mark.parametrize("au_name", AU_NAMES)
def test_each_au_changes_only_its_region(au_name: str) -> None:
    neutral, kps = _render_state(np.zeros(len(AU_NAMES)))
    au = np.zeros(len(AU_NAMES))
    au[AU_NAMES.index(au_name)] = 1.0
    active, _ = _render_state(au)
    changed = np.abs(active.astype(int) - neutral.astype(int)).max(axis=2) > 12
    eye_y, nose_y, mouth_y = kps[:2, 1].mean(), kps[2, 1], kps[3, 1]
    span = mouth_y - eye_y
    rows = np.arange(changed.shape[0])[:, None]
    region = {
        "upper": rows < eye_y - 0.1 * span,
        "eyes": (rows > eye_y - 0.3 * span) & (rows < nose_y),
        "lower": rows > nose_y - 0.3 * span,
    }[AU_REGIONS[au_name]]
    region = np.broadcast_to(region, changed.shape)
    assert changed[region].sum() >= 150, f"{au_name} barely changes its region"
    assert changed[~region].sum() <= 0.02 * changed[region].sum(), (
        f"{au_name} changes pixels outside its region"
    )


def test_each_au_has_its_own_look() -> None:
    looks = []
    for k in range(len(AU_NAMES)):
        au = np.zeros(len(AU_NAMES))
        au[k] = 1.0
        looks.append(_render_state(au)[0].astype(int))
    for a, b in itertools.combinations(range(len(AU_NAMES)), 2):
        differ = (np.abs(looks[a] - looks[b]).max(axis=2) > 12).sum()
        assert differ > 60, f"{AU_NAMES[a]} and {AU_NAMES[b]} look alike"


# --- EMI and hesitancy need the sequence -----------------------------------------------------


def test_frame_labels_follow_frames_but_emi_and_ah_follow_the_sequence() -> None:
    rng = np.random.default_rng(0)
    hesitant = 0
    tracks = (simulate_face(seed, 240, 30.0, (640, 480)) for seed in itertools.count())
    moving = (t for t in tracks if not _holds_still(t))  # a still face's frames are all alike
    for track in itertools.islice(moving, 6):
        order = rng.permutation(len(track))
        shuffled = track.take(order)
        # VA and AUs are per-frame: shuffling frames just shuffles them
        assert np.array_equal(labels.au_labels(shuffled), labels.au_labels(track)[order])
        # EMI and A/H are not functions of single frames
        emi_gap = np.abs(labels.emi_frames(shuffled) - labels.emi_frames(track)[order]).mean()
        assert emi_gap > 0.02
        if labels.ah_labels(track).any():
            hesitant += 1
            assert np.any(labels.ah_labels(shuffled) != labels.ah_labels(track)[order])
        assert not np.allclose(
            labels.emi_frames(shuffled).mean(0), labels.emi_frames(track).mean(0), atol=0.01
        )
    assert hesitant >= 3


def _holds_still(track: FaceTrack) -> bool:
    """Whether the face's expression, pose and gaze never change (only the camera moves)."""
    return all(
        np.all(getattr(track, f.name) == getattr(track, f.name)[0])
        for f in fields(track)
        if f.name not in ("center", "height")
    )


def _still_face(hesitation: np.ndarray) -> FaceTrack:
    """A face that does not move, with the given hesitant mouth pull per frame."""
    n = len(hesitation)
    zeros = np.zeros(n)
    return FaceTrack(
        center=np.zeros((n, 2)),
        height=np.full(n, 100.0),
        yaw=zeros,
        pitch=zeros,
        roll=zeros,
        valence=zeros,
        arousal=zeros,
        au=np.zeros((n, len(AU_NAMES))),
        gaze=np.zeros((n, 2)),
        blink=zeros,
        hesitation=hesitation,
    )


def test_hesitancy_needs_a_swinging_hesitation_over_most_of_the_window() -> None:
    pull = np.zeros(90)
    pull[20:22] = 1.0  # a flash of two frames
    pull[30:50] = np.where(np.arange(20) % 8 < 4, -1.0, 1.0)  # the mouth shifts side to side
    pull[60:80] = -1.0  # a lopsided mouth held still
    ah = labels.ah_labels(_still_face(pull))
    assert not ah[:30].any()
    half = labels.WINDOW // 2
    assert not ah[30 : 30 + half - 1].any() and ah[30 + half : 50].all()
    assert ah[50 : 50 + half].any() and not ah[50 + half :].any()


def test_hesitations_dart_the_gaze_and_swing_the_mouth() -> None:
    tracks = [simulate_face(seed, 300, 30.0, (640, 480)) for seed in range(20)]
    ah = np.concatenate([labels.ah_labels(t) for t in tracks]).astype(bool)
    assert 0.05 < ah.mean() < 0.5
    pull = np.concatenate([t.hesitation for t in tracks])
    assert np.median(np.abs(pull[ah])) > 0.6 and np.median(np.abs(pull[~ah])) < 0.01
    # the mouth pulls to the side the gaze darts to, and changes side with it
    gaze_x = [t.gaze[:, 0] for t in tracks]
    swing = np.concatenate(
        [labels._variation(g) - np.abs(g - labels._windows(g)[:, 0]) for g in gaze_x]
    )
    assert np.median(swing[ah]) > 0.6 > np.quantile(swing[~ah], 0.9)
    assert np.median(np.concatenate([labels._variation(t.hesitation) for t in tracks])[ah]) > 2


def test_a_still_face_holds_one_early_frame_and_is_never_hesitant() -> None:
    tracks = [simulate_face(seed, 60, 30.0, (640, 480)) for seed in range(100)]
    still = [t for t in tracks if _holds_still(t)]
    assert 0.04 < len(still) / len(tracks) < 0.25
    assert any(abs(t.hesitation[0]) >= trajectories.HELD_PULL[0] for t in still)
    for t in still:
        assert not labels.ah_labels(t).any()
        assert np.ptp(t.height) > 0  # the camera still zooms
        assert np.all(t.gaze == t.gaze[0]) and np.all(t.hesitation == t.hesitation[0])
    # held after the onset ramps settle: hardly any AU sits at the labels' threshold
    levels = np.concatenate([t.au[0] for t in still])
    assert np.mean(np.abs(levels - labels.AU_ON) < 0.1) < 0.05


def test_a_video_may_begin_in_the_middle_of_a_gesture(monkeypatch: pytest.MonkeyPatch) -> None:
    def hesitant_share() -> tuple[float, float]:
        tracks = [simulate_face(seed, 90, 30.0, (640, 480)) for seed in range(200)]
        moving = [t for t in tracks if not _holds_still(t)]  # a still face's pull is held
        pulled = np.stack([np.abs(t.hesitation) > 0.5 for t in moving])
        return pulled[:, :4].mean(), pulled[:, 45:].mean()

    first, later = hesitant_share()
    assert first > 0.5 * later > 0.05  # the first frames catch hesitations about as often
    monkeypatch.setattr(trajectories, "GESTURE_LEAD_S", 0.0)
    first, later = hesitant_share()
    assert first < 0.3 * later  # without the lead, gestures only begin after frame 0


def test_a_hesitation_pulls_one_mouth_corner() -> None:
    identity = Identity.sample(np.random.default_rng(1))
    looks = {}
    for pull in (-1.0, 0.0, 1.0):
        image = np.full((400, 400, 3), 90, np.uint8)
        geo = draw_face(image, identity, FaceState(center=(200, 190), height=240, hesitation=pull))
        looks[pull] = image.astype(int)
    mouth_x, mouth_y = geo.keypoints[3]
    for pull in (-1.0, 1.0):
        changed = np.abs(looks[pull] - looks[0.0]).max(axis=2) > 12
        ys, xs = np.nonzero(changed)
        assert len(ys) >= 150
        assert np.all(ys > mouth_y - 60) and np.all(ys < mouth_y + 60)  # the mouth only
        assert np.mean(np.sign(xs - mouth_x) == pull) > 0.9  # on the pulled side


def test_the_head_follows_the_gaze_part_of_the_way(monkeypatch: pytest.MonkeyPatch) -> None:
    yaw_gain, pitch_gain = trajectories.HEAD_FOLLOWS_GAZE_DEG
    assert yaw_gain > 0 and pitch_gain > 0
    coupled = simulate_face(5, 120, 30.0, (640, 480))
    monkeypatch.setattr(trajectories, "HEAD_FOLLOWS_GAZE_DEG", (0.0, 0.0))
    free = simulate_face(5, 120, 30.0, (640, 480))
    np.testing.assert_array_equal(coupled.gaze, free.gaze)
    np.testing.assert_allclose(coupled.yaw - free.yaw, yaw_gain * coupled.gaze[:, 0])
    np.testing.assert_allclose(coupled.pitch - free.pitch, -pitch_gain * coupled.gaze[:, 1])


def test_gestures_drive_their_emi_dimension() -> None:
    n = 60
    nodding = _still_face(np.zeros(n))
    nodding.valence = np.full(n, 0.8)
    still = nodding.take(np.arange(n))
    nodding.pitch = 8.0 * np.sin(np.arange(n) / 30 * 2 * np.pi * 2.5)
    k = EMI_NAMES.index("Admiration")
    assert labels.emi_frames(nodding)[10:, k].mean() > 2 * labels.emi_frames(still)[10:, k].mean()


# --- dataset layout -------------------------------------------------------------------------


def _read(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    return lines[0].split(","), np.array(
        [[float(v) for v in line.split(",")] for line in lines[1:]]
    )


def test_dataset_has_the_real_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trajectories, "EXIT_CHANCE", 1.0)  # every face leaves the frame once
    config = dataset.DatasetConfig(
        videos=3, frames=40, seed=2, faces=2, val_ratio=0.34, size=(320, 240)
    )
    manifest = dataset.write_dataset(tmp_path, config)
    assert len(manifest.videos) == 6
    assert {v.split for v in manifest.videos} == set(dataset.SPLITS)
    missing_seen = 0
    for entry in manifest.videos:
        assert entry.name.endswith(f"_face{entry.person}")
        crops = sorted(p.name for p in (tmp_path / "cropped_aligned" / entry.name).iterdir())
        assert crops == [f"{i:05d}.jpg" for i in range(1, 41)]
        crop = cv2.imread(str(tmp_path / "cropped_aligned" / entry.name / crops[0]))
        assert crop.shape == (224, 224, 3)
        head, va = _read(tmp_path / "VA_Estimation_Challenge" / entry.split / f"{entry.name}.txt")
        assert head == ["valence", "arousal"] and va.shape == (40, 2)
        head, au = _read(tmp_path / "AU_Detection_Challenge" / entry.split / f"{entry.name}.txt")
        assert head == list(AU_NAMES) and au.shape == (40, 12)
        head, ah = _read(tmp_path / "AH_Labels" / entry.split / f"{entry.name}.txt")
        assert head == ["hesitancy"] and ah.shape == (40, 1)
        head, emi = _read(tmp_path / "EMI_Frames" / entry.split / f"{entry.name}.txt")
        assert head == list(EMI_NAMES) and emi.shape == (40, 6)
        head, state = _read(tmp_path / "Face_State" / entry.split / f"{entry.name}.txt")
        assert head == list(dataset.STATE_COLUMNS) and state.shape == (40, len(head))
        assert np.abs(state[:, 3:5]).max() <= 1 and state[:, 8:].min() >= 0  # gaze, AU levels
        assert 0 <= state[:, 6].min() <= state[:, 6].max() <= 1  # the mouth pull's strength
        assert np.array_equal(np.abs(state[:, 7]), state[:, 6])  # and with its side
        missing = np.all(va == VA_MISSING, axis=1)
        assert np.array_equal(missing, np.all(au == AU_MISSING, axis=1))
        assert np.array_equal(missing, ah[:, 0] == AU_MISSING)
        assert np.all(np.abs(va[~missing]) <= 1) and set(np.unique(au[~missing])) <= {0, 1}
        assert entry.labelled_frames == (~missing).sum() > 0
        missing_seen += missing.sum()
    assert missing_seen > 0
    for split, name in dataset.EMI_FILES.items():
        head, *rows = (tmp_path / "EMI_Labels" / name).read_text().splitlines()
        assert head == "Filename," + ",".join(EMI_NAMES)
        assert sorted(r.split(",")[0] for r in rows) == sorted(
            v.name for v in manifest.videos if v.split == split
        )
        assert all(0 <= float(v) <= 1 for r in rows for v in r.split(",")[1:])


def test_clip_holds_crops_and_labels_of_every_face() -> None:
    clip = dataset.render_clip(8, frames=6, faces=2, size=(320, 240), crop_size=64)
    assert clip.crops.shape == (2, 6, 64, 64, 3) and clip.crops.dtype == np.uint8
    assert clip.va.shape == (2, 6, 2) and clip.au.shape == (2, 6, 12)
    assert clip.emi.shape == (2, 6, 6) and clip.ah.shape == clip.labelled.shape == (2, 6)
    video = Video(8, 6, faces=2, size=(320, 240))
    jitter = dataset.crop_jitter(8)
    crops = [dataset.aligned_crops(frame, 64, jitter) for frame in video]
    assert np.array_equal(clip.crops[1, 3], crops[3][1])
    assert np.array_equal(clip.au[0], video.labels[0].au)


def test_crops_shake_as_a_detector_s_do() -> None:
    frame = Video(8, 1, faces=1, size=(320, 240)).render(0)
    exact = dataset.aligned_crops(frame, 64).astype(float)
    shaken = [dataset.aligned_crops(frame, 64, dataset.crop_jitter(s)) for s in range(8)]
    moved = [np.abs(c.astype(float) - exact).mean() for c in shaken]
    # as much as the detector's crops of a still real face move (8-16 grey levels a frame)
    assert min(moved) > 3 and 8 < np.median(moved) < 25
    # by a few per cent of the box: the face stays where it was
    assert all(np.corrcoef(c.ravel(), exact.ravel())[0, 1] > 0.7 for c in shaken)


def test_cli_writes_a_dataset_and_a_strip(tmp_path: Path) -> None:
    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path / "data"),
                "--videos",
                "2",
                "--frames",
                "3",
                "--size",
                "160x120",
                "--strip",
                str(tmp_path / "strip.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "data" / "synth.json").is_file()
    assert len(list((tmp_path / "data" / "cropped_aligned").iterdir())) == 2
    assert cv2.imread(str(tmp_path / "strip.png")).shape[1] > 1000


def test_worker_processes_write_the_same_files(tmp_path: Path) -> None:
    args = [
        "--videos",
        "3",
        "--frames",
        "4",
        "--size",
        "160x120",
        "--val-ratio",
        "0.34",
        "--seed",
        "4",
        "--crop-size",
        "64",
    ]
    assert main(["synth", "--out", str(tmp_path / "one"), *args]) == 0
    assert main(["synth", "--out", str(tmp_path / "two"), *args, "--workers", "2"]) == 0
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes()
        for p in (tmp_path / "one").rglob("*")
        if p.is_file()
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes()
        for p in (tmp_path / "two").rglob("*")
        if p.is_file()
    }
    assert len(one) > 3 * 4 and one == two
    with pytest.raises(ValueError, match="workers"):
        dataset.write_dataset(
            tmp_path / "none", dataset.DatasetConfig(videos=1, frames=1), workers=0
        )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "0"], "workers must be at least 1, got 0"),
        (["--videos", "0"], "videos, frames and faces must each be at least 1"),
    ],
)
def test_cli_reports_bad_settings_in_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    assert main(["synth", "--out", str(tmp_path / "data"), "--frames", "1", *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith("affect-perception synth: ") and message in err
    assert "Traceback" not in err and not (tmp_path / "data").exists()


def test_cli_needs_an_output() -> None:
    with pytest.raises(SystemExit, match="--out"):
        main(["synth", "--videos", "1"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"videos": 0, "frames": 5}, "at least 1"),
        ({"videos": 1, "frames": 5, "val_ratio": 1.5}, "val_ratio"),
    ],
)
def test_dataset_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataset.DatasetConfig(**kwargs)


def test_strip_shows_frames_with_captions() -> None:
    strip = make_strip(seed=1, count=2, every=3, size=(320, 240))
    assert strip.ndim == 3 and strip.shape[1] > 600 and strip.dtype == np.uint8
