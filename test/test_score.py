"""`affect-perception score` on hand-made ABAW files: values, layouts, output and errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr

from affect_perception import cli
from affect_perception.evaluation import labels_io
from affect_perception.evaluation.labels_io import LabelFileError
from affect_perception.labels import AU_NAMES, EMI_NAMES

REPO = Path(__file__).resolve().parents[1]

# Two VA videos; rows with a -5 carry wrong predictions that must not count. Kept rows:
# valence label 1, 2, 3 predicted exactly (CCC 1); arousal label 1, 2, 3 predicted 2, 3, 4
# (CCC = 2 * 2/3 / (2/3 + 2/3 + 1) = 4/7). Score (1 + 4/7) / 2 = 11/14.
# labels in [-1, 1] (-5 missing); CCC is unchanged when labels and predictions scale together
VA_LABELS = {
    "vid_a": [[0.1, 0.1], [-5, 0.3], [0.2, 0.2], [-5, -5]],
    "vid_b": [[0.05, -5], [0.3, 0.3]],
}
VA_PRED = {
    "vid_a": [[0.1, 0.2], [0.9, 0.9], [0.2, 0.3], [-0.9, 0.9]],
    "vid_b": [[-0.7, 0.7], [0.3, 0.4]],
}
VA_EXPECTED = {"valence_ccc": 1.0, "arousal_ccc": 4 / 7, "va_ccc": 11 / 14}


def au_case() -> tuple[np.ndarray, np.ndarray, float]:
    """4 frames x 12 AUs: AU1 2/3 (its missing frame predicted wrong), AU2 never occurs and is
    never predicted (0), the other ten perfect (1): mean (2/3 + 0 + 10) / 12 = 8/9."""
    label = np.tile(np.array([[1], [0], [1], [0]]), (1, 12))
    prob = label * 0.8 + 0.1
    label[:, 0], prob[:, 0] = [1, 0, -1, 1], [0.9, 0.2, 0.9, 0.3]
    label[:, 1], prob[:, 1] = 0, 0.1
    return prob, label, 8 / 9


def write_videos(folder: Path, task: str, videos: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in videos.items():
        labels_io.write_video_file(folder / f"{name}.txt", task, np.array(rows, dtype=float))
    return folder


def score(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = cli.main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def score_json(capsys: pytest.CaptureFixture, task: str, pred: Path, labels: Path) -> dict:
    code, out, err = score(capsys, "--task", task, "--pred", pred, "--labels", labels, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def test_va_per_video_files_leave_out_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labels = write_videos(tmp_path / "labels", "va", VA_LABELS)
    pred = write_videos(tmp_path / "pred", "va", VA_PRED)
    got = score_json(capsys, "va", pred, labels)
    for key, want in VA_EXPECTED.items():
        assert got[key] == pytest.approx(want, abs=1e-9)
    assert (got["score"], got["videos"], got["rows"]) == (got["va_ccc"], 2, 6)


def test_va_submission_layout_rows_in_any_order(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labels = write_videos(tmp_path / "labels", "va", VA_LABELS)
    lines = ["image_location,valence,arousal"]
    for video, rows in VA_PRED.items():
        lines += [f"{video}/{i:05d}.jpg,{v},{a}" for i, (v, a) in enumerate(rows, start=1)]
    lines[1], lines[3] = lines[3], lines[1]  # order inside a video must not matter
    (tmp_path / "sub.txt").write_text("\n".join(lines) + "\n\n")
    got = score_json(capsys, "va", tmp_path / "sub.txt", labels)
    assert got["va_ccc"] == pytest.approx(VA_EXPECTED["va_ccc"], abs=1e-9)


def test_au_submission_writer_and_table_output(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    prob, label, want = au_case()
    labels = write_videos(tmp_path / "labels", "au", {"v1": label})
    labels_io.write_submission(tmp_path / "pred.txt", "au", {"v1": prob})
    got = score_json(capsys, "au", tmp_path / "pred.txt", labels)
    assert got["au_f1_mean"] == pytest.approx(want, abs=1e-9)
    assert got["au_f1"]["AU1"] == pytest.approx(2 / 3)
    assert list(got["au_f1"]) == list(AU_NAMES)
    code, out, _ = score(
        capsys, "--task", "au", "--pred", tmp_path / "pred.txt", "--labels", labels
    )
    assert code == 0
    assert "au_f1_mean" in out and "0.8889" in out and "au_f1[AU26]" in out


def test_emi_csv_matches_scipy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(3)
    label = rng.uniform(size=(5, 6))
    pred = label + rng.normal(scale=0.3, size=(5, 6))
    names = [f"{i:05d}.mp4" for i in range(5)]
    labels_io.write_emi_csv(tmp_path / "labels.csv", dict(zip(names, label, strict=True)))
    # predictions keyed without the extension and in another order: matched by stem
    labels_io.write_emi_csv(
        tmp_path / "pred.csv", {f"{i:05d}": pred[i] for i in reversed(range(5))}
    )
    got = score_json(capsys, "emi", tmp_path / "pred.csv", tmp_path / "labels.csv")
    want = [pearsonr(pred[:, i], label[:, i]).statistic for i in range(6)]
    assert [got["emi_pearson"][n] for n in EMI_NAMES] == pytest.approx(want, abs=1e-6)
    assert got["emi_pearson_mean"] == pytest.approx(np.mean(want), abs=1e-6)


def test_ah_frame_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # hesitant: tp 2 (0.7, 0.5), fp 1 (0.9), fn 1 (0.2): F1 = 4 / (4 + 1 + 1) = 2/3
    # calm: tp 1 (0.1), fp 1 (0.2), fn 1 (0.9): F1 = 2 / (2 + 1 + 1) = 1/2
    # macro (2/3 + 1/2) / 2 = 7/12; weighted by 3 hesitant and 2 calm frames: 3/5
    labels = write_videos(tmp_path / "labels", "ah", {"p1": [[1], [1], [0]], "p2": [[1], [0]]})
    pred = write_videos(
        tmp_path / "pred", "ah", {"p1": [[0.7], [0.5], [0.9]], "p2": [[0.2], [0.1]]}
    )
    got = score_json(capsys, "ah", pred, labels)
    assert got["score"] == got["ah_f1"] == pytest.approx(7 / 12)
    assert got["ah_f1_positive"] == pytest.approx(2 / 3)
    assert got["ah_f1_weighted"] == pytest.approx(3 / 5)


def test_cli_process_prints_json(tmp_path: Path) -> None:
    labels = write_videos(tmp_path / "labels", "va", VA_LABELS)
    pred = write_videos(tmp_path / "pred", "va", VA_PRED)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "affect_perception.cli",
            "score",
            "--task",
            "va",
            "--pred",
            str(pred),
            "--labels",
            str(labels),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["va_ccc"] == pytest.approx(11 / 14)


def corrupt(pred: Path) -> None:
    (pred / "vid_a.txt").write_text("valence,arousal\n1,2\n9,oops\n2,3\n-9,9\n")


def wrong_count(pred: Path) -> None:
    (pred / "vid_b.txt").write_text("valence,arousal\n-7,7\n")


def bad_header(pred: Path) -> None:
    (pred / "vid_b.txt").write_text("valence;arousal\n-7;7\n3;4\n")


def missing_video(pred: Path) -> None:
    (pred / "vid_b.txt").unlink()


def unknown_video(pred: Path) -> None:
    (pred / "vid_c.txt").write_text("valence,arousal\n0,0\n")


def binary_file(pred: Path) -> None:
    (pred / "vid_a.txt").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")


def submission_gap(pred: Path) -> None:
    (pred / "vid_b.txt").unlink()
    (pred / "sub.txt").write_text(
        "image_location,valence,arousal\nvid_b/00001.jpg,1,1\nvid_b/00003.jpg,1,1\n"
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (corrupt, r"vid_a\.txt, line 3: .*not a number"),
        (wrong_count, r"vid_b\.txt: video 'vid_b' has 1 rows .* have 2 rows"),
        (bad_header, r"vid_b\.txt, line 1: header"),
        (missing_video, r"vid_b\.txt: video 'vid_b' has no predictions"),
        (unknown_video, r"vid_c\.txt: video 'vid_c' has no labels"),
        (binary_file, r"vid_a\.txt: is not UTF-8"),
        (submission_gap, r"sub\.txt: video 'vid_b' has 2 frames but no frame 2"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, damage, message: str
) -> None:
    labels = write_videos(tmp_path / "labels", "va", VA_LABELS)
    pred = write_videos(tmp_path / "pred", "va", VA_PRED)
    damage(pred)
    code, out, err = score(capsys, "--task", "va", "--pred", pred, "--labels", labels)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("affect-perception score: error: ")
    with pytest.raises(LabelFileError, match=message):
        labels_io.align(labels_io.read(pred, "va"), labels_io.read(labels, "va"))


def test_missing_path_and_wrong_emi_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labels = write_videos(tmp_path / "labels", "va", VA_LABELS)
    code, _, err = score(capsys, "--task", "va", "--pred", tmp_path / "nope", "--labels", labels)
    assert code == 2 and "does not exist" in err
    # a folder of VA files is no per-frame EMI folder: the header says so
    code, _, err = score(capsys, "--task", "emi", "--pred", labels, "--labels", labels)
    assert code == 2 and "valence,arousal" in err and "Admiration" in err


def test_emi_per_frame_folders_score_every_labelled_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rng = np.random.default_rng(4)
    label = {"a": rng.uniform(size=(9, 6)), "b": rng.uniform(size=(7, 6))}
    label["a"][2] = -5.0  # a missing frame
    pred = {
        v: np.where(rows == -5.0, 0.5, rows + rng.normal(scale=0.2, size=rows.shape))
        for v, rows in label.items()
    }
    got = score_json(
        capsys,
        "emi",
        write_videos(tmp_path / "pred", "emi", pred),
        write_videos(tmp_path / "labels", "emi", label),
    )
    keep = np.concatenate([label["a"][:, 0] != -5.0, np.ones(7, bool)])
    flat_label = np.concatenate([label["a"], label["b"]])[keep]
    flat_pred = np.concatenate([pred["a"], pred["b"]])[keep]
    want = [pearsonr(flat_pred[:, i], flat_label[:, i]).statistic for i in range(6)]
    assert [got["emi_pearson"][n] for n in EMI_NAMES] == pytest.approx(want, abs=1e-4)


def test_writers_round_trip_exactly(tmp_path: Path) -> None:
    values = np.random.default_rng(0).uniform(-1, 1, (7, 2))
    values[2] = -5.0
    labels_io.write_video_file(tmp_path / "x.txt", "va", values)
    labels_io.write_submission(tmp_path / "s.txt", "va", {"dir/x": values})
    assert np.array_equal(labels_io.read(tmp_path / "x.txt", "va")["x"].values, values)
    assert np.array_equal(labels_io.read(tmp_path / "s.txt", "va")["dir/x"].values, values)
    assert (tmp_path / "x.txt").read_text().splitlines()[3] == "-5,-5"


@pytest.mark.parametrize(
    ("task", "labels", "message"),
    [
        ("va", {"v": [[-5, -5], [-5, 0.3]]}, r"no frames left to score .*\(-5\)"),
        ("au", {"v": np.full((2, 12), -1)}, r"no frames left to score .*\(-1\)"),
        (
            "va",
            {"v": [[0.1, 0.2], [1e308, 0.3]]},
            r"row 2, column 1: label 1e\+308 is not in \[-1, 1\] or -5",
        ),
        ("va", {"v": [[0.1, 0.2], [-1.5, 0.3]]}, r"label -1.5 is not in \[-1, 1\]"),
        ("au", {"v": np.full((2, 12), 2)}, r"label 2.0 is not 0 or 1 or -1 \(missing\)"),
        ("ah", {"v": [[0], [0.5]]}, r"label 0.5 is not 0 or 1"),
    ],
)
def test_unusable_labels_are_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, task: str, labels: dict, message: str
) -> None:
    """Every label missing, or one outside its range (issue 22, defect 9: 1e308 labels
    scored CCC 0 with exit 0)."""
    write_videos(tmp_path / "labels", task, labels)
    pred = {v: np.zeros(np.shape(rows)) for v, rows in labels.items()}
    write_videos(tmp_path / "pred", task, pred)
    code, out, err = score(
        capsys, "--task", task, "--pred", tmp_path / "pred", "--labels", tmp_path / "labels"
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and re.search(message, err), err
