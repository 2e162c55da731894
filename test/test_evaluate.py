"""Evaluation: alignment and scoring on hand-made frames, and the eval command on small bags."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib import image as mpimg

from affect_perception import cli
from affect_perception.detections import Detections
from affect_perception.evaluation import bag_io, labels_io
from affect_perception.evaluation.align import (
    assign,
    pair_with_rows,
    pair_with_truth,
)
from affect_perception.evaluation.bag_types import affect_typestore
from affect_perception.evaluation.evaluate import score_series
from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_NAMES, EMI_NAMES


def frame(
    boxes: list[list[float]],
    ids: list[str],
    valence: list[float],
    window_fill: int = 8,
    stamp: float = 0.0,
) -> FrameResult:
    """A FrameResult with the given boxes, ids and valence; other fields fixed."""
    n = len(boxes)
    data = {
        "valence": np.array(valence, np.float32),
        "arousal": np.zeros(n, np.float32),
        "au_prob": np.full((n, 12), 0.75, np.float32),
        "au_active": np.ones((n, 12), bool),
        "emi": np.full((n, 6), 0.5, np.float32),
        "ah_prob": np.zeros(n, np.float32),
        "ah": np.zeros(n, bool),
        "window_fill": np.full(n, window_fill, np.int64),
    }
    faces = Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        score=np.ones(n),
        track_id=np.array(ids, dtype=object),
        data=data,
    )
    return FrameResult(
        stamp=stamp, image_size=(640, 480), faces=faces, window_size=8, model_id="test"
    )


LEFT, RIGHT = [0, 0, 100, 100], [200, 0, 300, 100]


@pytest.mark.parametrize(
    ("pred", "truth", "pairs"),
    [
        ([LEFT, RIGHT], [RIGHT, LEFT], [(0, 1), (1, 0)]),  # order does not matter
        ([[40, 0, 140, 100]], [LEFT], [(0, 0)]),  # IoU 0.43 >= 0.3
        ([[70, 0, 170, 100]], [LEFT], []),  # IoU 0.18 < 0.3
        ([LEFT, [5, 5, 105, 105]], [LEFT], [(0, 0)]),  # one truth, the better track
        ([], [LEFT], []),  # no prediction
    ],
)
def test_assign(pred: list, truth: list, pairs: list) -> None:
    def dets(boxes: list) -> Detections:
        return Detections(
            xyxy=np.array(boxes, np.float32).reshape(-1, 4), score=np.ones(len(boxes))
        )

    assert sorted(assign(dets(pred), dets(truth))) == pairs


def test_pairing_follows_boxes_skips_cold_windows_and_counts_drops() -> None:
    stamps = [10, 20, 30, 40]
    truth = {
        s: frame([LEFT, RIGHT], ["person0", "person1"], [0.1 * i, -0.1 * i], 0)
        for i, s in enumerate(stamps)
    }
    predictions = [
        frame([RIGHT, LEFT], ["f1", "f2"], [-0.5, 0.5], window_fill=3),  # cold: not scored
        frame([RIGHT, LEFT], ["f1", "f2"], [-0.6, 0.6]),
        None,  # dropped
        frame([RIGHT], ["f1"], [-0.8]),  # person0 missed
    ]
    series, stats = pair_with_truth(stamps, predictions, truth)
    assert (stats.labelled_faces, stats.matched_faces, stats.scored_faces) == (8, 5, 3)
    assert stats.missing_predictions == 1
    assert list(series.person) == ["person0", "person1", "person1"]  # person-major
    assert list(series.frame) == [1, 1, 3]
    np.testing.assert_allclose(series.pred["va"][:, 0], [0.6, -0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(series.label["va"][:, 0], [0.1, -0.1, -0.3], rtol=1e-6)
    assert stats.tracks_per_person == {"person0": {"f2"}, "person1": {"f1"}}
    every, _ = pair_with_truth(stamps, predictions, truth, warm_only=False)
    assert len(every) == 5


def test_rows_pair_with_the_largest_face() -> None:
    small, large = [0, 0, 50, 50], [100, 100, 300, 300]
    predictions = [frame([small, large], ["a", "b"], [0.9, 0.2]), frame([], [], []), None]
    labels = {"va": np.array([[0.25, 0.0], [0.5, 0.0], [0.75, 0.0]])}
    series, stats = pair_with_rows([1, 2, 3], predictions, labels, "video")
    assert list(series.frame) == [0] and series.pred["va"][0, 0] == pytest.approx(0.2)
    assert stats.missing_predictions == 1 and stats.scored_faces == 1
    with pytest.raises(ValueError, match="one row per frame"):
        pair_with_rows([1, 2], predictions[:2], labels, "video")


# --- the eval command on small synthetic bags -------------------------------------------------

FRAMES = 40
REPORT_KEYS = (
    "va_ccc",
    "valence_ccc",
    "arousal_ccc",
    "au_f1_mean",
    "au_f1",
    "emi_pearson_mean",
    "ah_f1",
    "ah_f1_positive",
    "ah_f1_weighted",
    "frames",
    "frames_with_face",
    "faces",
    "fps",
    "latency_ms_p50",
    "latency_ms_p95",
    "dropped",
    "model_id",
    "warm_only",
    "notes",
)
# Keys that may be null, each for a documented reason (docs/EVALUATION.md).
NULLABLE = {"rate"}


def make_synthetic(
    out: Path, storage: str = "mcap", compressed: bool = False, frames: int = FRAMES
) -> Path:
    args = [
        "make-bag",
        "--synthetic",
        "--out",
        str(out),
        "--frames",
        str(frames),
        "--faces",
        "2",
        "--size",
        "320x240",
        "--seed",
        "3",
        "--storage",
        storage,
    ]
    assert cli.main(args + (["--compressed"] if compressed else [])) == 0
    return out


@pytest.fixture(scope="module")
def synthetic_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("bags") / "synthetic")


def run_eval(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """Run ``affect-perception eval`` with one onnxruntime thread; returns (code, stderr)."""
    code = cli.main(["eval", "--threads", "1", *map(str, args)])
    return code, capsys.readouterr().err


def assert_report(folder: Path, frames: int) -> dict:
    report = json.loads((folder / "report.json").read_text())
    assert set(REPORT_KEYS) <= set(report)
    assert report["frames"] == frames and report["dropped"] == 0
    assert 0 < report["frames_with_face"] <= frames
    assert report["faces"] >= report["frames_with_face"]
    assert report["fps"] > 0 and 0 < report["latency_ms_p50"] <= report["latency_ms_p95"]
    assert report["warm_only"] is True and report["model_id"]
    for key in ("va_ccc", "valence_ccc", "arousal_ccc", "au_f1_mean", "emi_pearson_mean", "ah_f1"):
        assert report[key] is not None and -1 <= report[key] <= 1, key
    assert set(report["au_f1"]) == set(AU_NAMES)
    assert report["scored_faces"] <= report["matched_faces"] <= report["labelled_faces"]
    for name in ("va.png", "au_f1.png", "emi.png"):
        assert mpimg.imread(folder / name).ndim == 3
    assert "VA CCC" in (folder / "report.md").read_text()
    return report


# Both storages and both image types (make-bag's tests read back all four combinations).
@pytest.mark.parametrize(("storage", "compressed"), [("mcap", False), ("sqlite3", True)])
def test_round_trip(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    random_model_dir: Path,
    storage: str,
    compressed: bool,
) -> None:
    bag = make_synthetic(tmp_path / "bag", storage, compressed)
    code, err = run_eval(
        capsys,
        "--bag",
        bag,
        "--model",
        random_model_dir,
        "--report",
        tmp_path / "report",
        "--record",
        tmp_path / "pred",
    )
    assert code == 0, err
    report = assert_report(tmp_path / "report", FRAMES)
    assert report["labelled_faces"] == sum(
        len(r.faces) for r in bag_io.read_affect(bag, bag_io.GROUND_TRUTH_TOPIC).values()
    )
    # the recording holds one AffectStateArray per frame, stamped like its source image
    source = [f.stamp_ns for f in bag_io.read_frames(bag, report["topic"])]
    recorded = bag_io.read_affect(tmp_path / "pred", bag_io.PREDICTION_TOPIC)
    assert sorted(recorded) == source
    assert sum(len(r.faces) for r in recorded.values()) == report["faces"]


def test_ground_truth_against_itself_scores_perfectly(synthetic_bag: Path) -> None:
    truth = bag_io.read_affect(synthetic_bag, bag_io.GROUND_TRUTH_TOPIC)
    stamps = sorted(truth)
    series, stats = pair_with_truth(stamps, [truth[s] for s in stamps], truth)
    assert stats.scored_faces == stats.labelled_faces == 2 * FRAMES
    assert set(series.person) == {"person0", "person1"}
    notes: list[str] = []
    scores = score_series(series, notes)
    assert notes == []
    assert scores["valence_ccc"] == scores["arousal_ccc"] == pytest.approx(1.0)
    occurs = (series.label["au"] == 1).any(axis=0)
    assert occurs.sum() >= 3  # the check below means something
    for name, present in zip(AU_NAMES, occurs, strict=True):
        assert scores["au_f1"][name] == (1.0 if present else 0.0), name
    varies = series.label["emi"].std(axis=0) > 0
    assert varies.sum() >= 2
    for name, vary in zip(EMI_NAMES, varies, strict=True):
        assert scores["emi_pearson"][name] == pytest.approx(1.0 if vary else 0.0), name
    assert scores["ah_f1"] == 1.0  # macro: every class that occurs is found perfectly
    assert scores["ah_f1_positive"] == (1.0 if series.label["ah"].any() else 0.0)


def write_bag(path: Path, write: Callable[[bag_io.BagWriter], None]) -> Path:
    with bag_io.BagWriter(path) as writer:
        write(writer)
    return path


def only_truth(path: Path, source: Path) -> Path:
    truth = bag_io.read_affect(source, bag_io.GROUND_TRUTH_TOPIC)
    return write_bag(
        path, lambda w: [w.write_result(bag_io.GROUND_TRUTH_TOPIC, r, s) for s, r in truth.items()]
    )


def odd_encoding(path: Path, _source: Path) -> Path:
    types = affect_typestore().types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="camera"
    )
    msg = types[bag_io.IMAGE_TYPE](
        header=header,
        height=2,
        width=2,
        encoding="weird16",
        is_bigendian=0,
        step=4,
        data=np.zeros(8, np.uint8),
    )
    return write_bag(path, lambda w: w.write_msg(bag_io.IMAGE_TOPIC, msg, 10**9))


def two_cameras(path: Path, _source: Path) -> Path:
    rgb = np.zeros((32, 32, 3), np.uint8)
    return write_bag(
        path,
        lambda w: [
            w.write_image(topic, rgb, 10**9) for topic in ("/left/image_raw", "/right/image_raw")
        ],
    )


def truncated(path: Path, source: Path) -> Path:
    shutil.copytree(source, path)
    storage = next(path.glob("*.mcap"))
    storage.write_bytes(storage.read_bytes()[:5000])
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (only_truth, [], "has no sensor_msgs/Image or CompressedImage topic"),
        (odd_encoding, [], "encoding 'weird16' is not supported"),
        (truncated, [], "cannot be read"),
        (None, ["--labels", "short.txt"], "has 39 label rows but the bag has 40 frames"),
        (None, ["--model", "missing"], "--model missing is not a folder"),
        (None, ["--topic", "/nope"], "has no image topic '/nope'"),
        (two_cameras, [], "has several image topics ['/left/image_raw', '/right/image_raw']"),
        (None, ["--record", "."], "--record . already exists"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    synthetic_bag: Path,
    random_model_dir: Path,
    make: Callable[[Path, Path], Path] | None,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    labels_io.write_video_file(tmp_path / "short.txt", "va", np.zeros((FRAMES - 1, 2)))
    bag = synthetic_bag if make is None else make(tmp_path / "bad", synthetic_bag)
    model = [] if "--model" in extra else ["--model", random_model_dir]
    code, err = run_eval(capsys, "--bag", bag, *model, *extra, "--report", tmp_path / "r")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("affect-perception eval: error:"), err
    assert message in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def one_face_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames of one face: the labelled video of the label-file tests (seed 6: a face that
    BlazeFace finds in every frame, with scores of 0.9 and more)."""
    out = tmp_path_factory.mktemp("bags") / "clip"
    assert (
        cli.main(
            [
                "make-bag",
                "--synthetic",
                "--out",
                str(out),
                "--frames",
                "16",
                "--size",
                "256x192",
                "--seed",
                "6",
            ]
        )
        == 0
    )
    return out


def write_labels(folder: Path, bag: Path, fmt: str) -> list[Path]:
    """The bag's ground truth written as the label files of ``fmt``."""
    truth = bag_io.read_affect(bag, bag_io.GROUND_TRUTH_TOPIC)
    data = [truth[s].faces[0].data for s in sorted(truth)]
    values = {
        k: np.concatenate([d[k] for d in data]).reshape(len(data), -1)
        for k in ("valence", "arousal", "au_prob", "emi", "ah_prob")
    }
    if fmt == "emi-csv":
        labels_io.write_emi_csv(folder / "emi.csv", {"clip": values["emi"].mean(axis=0)})
        return [folder / "emi.csv"]
    if fmt == "ah":
        labels_io.write_video_file(folder / "clip.txt", "ah", values["ah_prob"])
        return [folder / "clip.txt"]
    (folder / "VA").mkdir()
    (folder / "AU").mkdir()
    labels_io.write_video_file(
        folder / "VA" / "clip.txt", "va", np.hstack([values["valence"], values["arousal"]])
    )
    labels_io.write_video_file(folder / "AU" / "other.txt", "au", values["au_prob"][:3])
    labels_io.write_video_file(folder / "AU" / "clip.txt", "au", values["au_prob"])
    return [folder / "VA", folder / "AU"]  # folders: the video named like the bag is used


@pytest.mark.parametrize(
    ("fmt", "scored", "unscored"),
    [
        ("affwild2", ("va_ccc", "au_f1_mean"), ("emi_pearson_mean", "ah_f1")),
        ("ah", ("ah_f1",), ("va_ccc", "au_f1_mean", "emi_pearson_mean")),
        ("emi-csv", ("emi_video",), ("va_ccc", "au_f1_mean", "emi_pearson_mean", "ah_f1")),
    ],
)
def test_label_files_match_frames_by_index(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    one_face_bag: Path,
    random_model_dir: Path,
    fmt: str,
    scored: tuple[str, ...],
    unscored: tuple[str, ...],
) -> None:
    labels = [a for path in write_labels(tmp_path, one_face_bag, fmt) for a in ("--labels", path)]
    code, err = run_eval(
        capsys,
        "--bag",
        one_face_bag,
        "--model",
        random_model_dir,
        *labels,
        "--label-format",
        fmt,
        "--report",
        tmp_path / "report",
    )
    assert code == 0, err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["labelled_faces"] == 16 and 0 < report["scored_faces"] <= 16
    assert all(report[key] is not None for key in scored)
    assert all(report[key] is None for key in unscored)
    assert len(report["notes"]) >= 2  # warm-only, and the tasks left unscored


def test_without_labels_only_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], one_face_bag: Path, random_model_dir: Path
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for f in bag_io.read_frames(one_face_bag, bag_io.IMAGE_TOPIC):
        cv2.imwrite(
            str(folder / f"{f.index:03d}.png"), cv2.cvtColor(f.decode(), cv2.COLOR_RGB2BGR)
        )
    assert cli.main(["make-bag", "--out", str(tmp_path / "bag"), "--images", str(folder)]) == 0
    code, err = run_eval(
        capsys,
        "--bag",
        tmp_path / "bag",
        "--model",
        random_model_dir,
        "--report",
        tmp_path / "report",
    )
    assert code == 0, err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["frames"] == 16 and report["frames_with_face"] > 0 and report["labels"] is None
    assert all(report[key] is None for key in ("va_ccc", "au_f1_mean", "emi_pearson_mean"))
    assert any(note.startswith("no labels") for note in report["notes"])


def test_missing_bundled_model_asks_for_model(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    one_face_bag: Path,
) -> None:
    def absent() -> Path:
        raise FileNotFoundError("bundled model 'demo' not found in models/demo")

    monkeypatch.setattr("affect_perception.resources.bundled_model_dir", absent)
    code, err = run_eval(capsys, "--bag", one_face_bag, "--report", tmp_path / "report")
    assert code == 2 and err.count("\n") == 1 and "--model" in err


def test_frame_result_survives_the_message_round_trip() -> None:
    result = frame(
        [[10.2, 20.7, 50.5, 80.0], [600.5, 400, 700, 500]],
        ["f1", "f2"],
        [0.25, -0.5],
        window_fill=5,
    )
    back = bag_io.msg_to_result(bag_io.result_to_msg(result, 1_700_000_000_123_456_789, "cam"))
    # boxes go outward to whole pixels and are clipped to the 640x480 image
    np.testing.assert_array_equal(back.faces.xyxy, [[10, 20, 51, 80], [600, 400, 640, 480]])
    assert list(back.faces.track_id) == ["f1", "f2"] and back.model_id == "test"
    assert back.window_size == 8 and list(back.faces.data["window_fill"]) == [5, 5]
    assert back.stamp == pytest.approx(1_700_000_000.123456789)
    for key in ("valence", "au_prob", "au_active", "emi", "ah_prob", "ah"):
        np.testing.assert_array_equal(back.faces.data[key], result.faces.data[key])


def test_a_task_the_model_lacks_is_null_with_a_note() -> None:
    truth = {s: frame([LEFT], ["person0"], [0.1 * s]) for s in range(5)}
    predictions = [frame([LEFT], ["f1"], [0.2 * s]) for s in range(5)]
    for result in predictions:  # a model without the AU head outputs NaN there
        result.faces.data["au_prob"][:] = np.nan
    series, _ = pair_with_truth(list(range(5)), predictions, truth)
    notes: list[str] = []
    scores = score_series(series, notes)
    assert scores["va_ccc"] is not None and scores["au_f1_mean"] is None
    assert notes == ["au not scored: the model has no au output"]


FUZZED_BAGS = 8


def _fuzzed_bag(path: Path, source: Path, rng: np.random.Generator) -> Path:
    """``source`` with bytes of its MCAP file overwritten at random, or cut short."""
    shutil.copytree(source, path)
    storage = next(path.glob("*.mcap"))
    data = bytearray(storage.read_bytes())
    if rng.uniform() < 0.4:
        data = data[: int(rng.integers(len(data) // 2, len(data)))]
    else:
        spots = rng.integers(0, len(data), int(rng.integers(1, 400)))
        data_array = np.frombuffer(data, np.uint8).copy()
        data_array[spots] = rng.integers(0, 256, len(spots))
        data = bytearray(data_array.tobytes())
    storage.write_bytes(bytes(data))
    return path


def test_fuzzed_bags_give_one_line_or_a_report_of_what_was_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], random_model_dir: Path
) -> None:
    """Issue 22, defect 5: 6 of 12 fuzzed MCAPs printed tracebacks (UnicodeDecodeError,
    SerdeError), one was evaluated on 25 of 30 frames without a word."""
    rng = np.random.default_rng(22)
    source = make_synthetic(tmp_path / "source", frames=10)
    listed = bag_io.topics(source)
    codes = []
    for case in range(FUZZED_BAGS):
        bag = _fuzzed_bag(tmp_path / f"bag{case}", source, rng)
        report = tmp_path / f"report{case}"
        code, err = run_eval(capsys, "--bag", bag, "--model", random_model_dir, "--report", report)
        codes.append(code)
        assert code in (0, 2), err
        if code == 2:
            assert err.count("\n") == 1 and err.startswith("affect-perception eval: error:")
            continue
        got = json.loads((report / "report.json").read_text())
        count = listed[got["topic"]][1]
        assert got["frames"] + got["frames_skipped"] == count
        assert (got["frames_skipped"] > 0) == any("partial read" in n for n in got["notes"])
    assert 2 in codes


def test_eval_takes_the_node_parameter_file(
    synthetic_bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from affect_perception.evaluation import evaluate
    from affect_perception.serving.settings import node_pipeline_config

    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    args = parser.parse_args(
        [
            "--bag",
            str(synthetic_bag),
            "--report",
            str(tmp_path / "r"),
            "--params-file",
            str(repo / "config" / "affect.yaml"),
            "--threads",
            "1",
        ]
    )
    inputs = evaluate.check_inputs(args)
    assert inputs.params["smoothing.enabled"] is True  # the file's
    assert inputs.params["intra_op_threads"] == 1 and inputs.overrides == {
        "intra_op_threads": 1
    }  # the flag's, over the file's
    config = node_pipeline_config(inputs.model_dir, **inputs.params)
    assert config.one_euro is not None and config.intra_op_threads == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    max_faces: 0\n")
    code, err = run_eval(
        capsys, "--bag", synthetic_bag, "--report", tmp_path / "r2", "--params-file", bad
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"--params-file {bad}: parameter 'max_faces': 0 is outside" in err
