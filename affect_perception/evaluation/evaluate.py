"""``affect-perception eval``: replay a bag through the pipeline and score it as ABAW does.

The bag's image topic (the only one, or ``--topic``) is replayed in this process as fast as
possible (``--mode inprocess``) or through the ROS node at ``--rate`` × real time
(``--mode ros``). Labels come from the bag's ground-truth topic (per face, matched by stamp and
box overlap) or from ``--labels`` files (per frame, row i = bag frame i, compared with the
largest predicted face). Only warm predictions are scored unless ``--all-frames``. Writes
``report.json``, ``report.md`` and plots into ``--report``; see docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from affect_perception.cli_errors import InputError, existing_path, output_folder
from affect_perception.cli_options import add_model_option, chosen_model
from affect_perception.evaluation import labels_io
from affect_perception.evaluation.align import (
    MIN_IOU,
    MatchStats,
    Series,
    pair_with_rows,
    pair_with_truth,
)
from affect_perception.evaluation.bag_io import (
    AFFECT_TYPE,
    GROUND_TRUTH_TOPIC,
    PREDICTION_TOPIC,
    STORAGE_PLUGINS,
    BagError,
    BagWriter,
    choose_image_topic,
    read_affect,
    read_frames,
    result_to_msg,
    topics,
)
from affect_perception.evaluation.replay import Replay, ReplayError
from affect_perception.evaluation.report import finite_or_none, write_report
from affect_perception.evaluation.score import TASK_METRICS
from affect_perception.labels import EMI_NAMES
from affect_perception.model_files import PRECISIONS, read_model_json
from affect_perception.runtime.engine import ModelLoadError
from affect_perception.runtime.image_decode import ImageDecodeError
from affect_perception.serving.params_file import read_params_file
from affect_perception.serving.settings import ParameterError, default, node_pipeline_config

# Report keys of each task's scores, None when the task cannot be scored.
TASK_KEYS: dict[str, tuple[str, ...]] = {
    "va": ("va_ccc", "valence_ccc", "arousal_ccc"),
    "au": ("au_f1_mean", "au_f1"),
    "emi": ("emi_pearson_mean", "emi_pearson"),
    "ah": ("ah_f1", "ah_f1_positive", "ah_f1_weighted"),
}
# Tasks whose labels mark a missing value with a negative number the metric does not drop.
NEGATIVE_MISSING = ("emi", "ah")
LABEL_FORMATS = ("affwild2", "emi-csv", "ah")
WARM_NOTE = (
    "scored only predictions with a warm window (window_fill >= window_size); "
    "pass --all-frames to score every frame"
)


class EvalError(InputError):
    """An eval input that cannot be used; the message says what to do."""


@dataclass
class Labels:
    """Where the labels come from and what they hold.

    Attributes:
        source: a description for the report.
        truth: per-face ground truth keyed by stamp (from the bag), or None.
        rows: per-frame label rows by task (from files), or None.
        emi_row: one video's EMI label row (from an EMI CSV), or None.
        video: the labelled video's name (file labels).
    """

    source: str
    truth: dict | None = None
    rows: dict[str, np.ndarray] | None = None
    emi_row: np.ndarray | None = None
    video: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``eval`` options."""
    parser.add_argument("--bag", required=True, type=Path, help="rosbag2 folder to replay")
    add_model_option(parser)
    parser.add_argument(
        "--labels",
        type=Path,
        action="append",
        default=None,
        help="label file or folder (repeat for VA and AU); default: the bag's "
        f"{GROUND_TRUTH_TOPIC} topic",
    )
    parser.add_argument(
        "--label-format",
        choices=LABEL_FORMATS,
        default="affwild2",
        help="affwild2: VA/AU <video>.txt files; emi-csv: the EMI CSV; "
        "ah: hesitancy <video>.txt files",
    )
    parser.add_argument(
        "--mode",
        choices=("inprocess", "ros"),
        default="inprocess",
        help="run the pipeline here, or the ROS node over loopback",
    )
    parser.add_argument(
        "--rate", type=float, default=1.0, help="ros mode: replay speed as a multiple of real time"
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help=f"write the predictions to this new bag ({PREDICTION_TOPIC})",
    )
    parser.add_argument(
        "--storage",
        choices=sorted(STORAGE_PLUGINS),
        default="mcap",
        help="storage format of --record",
    )
    parser.add_argument(
        "--topic", default=None, help="image topic (needed when the bag has several)"
    )
    parser.add_argument(
        "--truth-topic", default=GROUND_TRUTH_TOPIC, help="ground-truth AffectStateArray topic"
    )
    parser.add_argument(
        "--all-frames", action="store_true", help="score predictions of cold windows too"
    )
    parser.add_argument(
        "--min-iou",
        type=float,
        default=MIN_IOU,
        help="least box IoU of a predicted track and a labelled face",
    )
    parser.add_argument(
        "--params-file",
        type=Path,
        default=None,
        help="the node's parameter file (e.g. config/affect.yaml): evaluate "
        "with its settings; default: the node's defaults (smoothing off)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="model files to run: fp32, fp16 (export --fp16) or int8 "
        "(quantize); the node's parameter of the same name (default: "
        f"the parameter file's, else {default('precision')})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="onnxruntime intra-op threads per model, the node's "
        "intra_op_threads (0: all cores; default: the parameter file's, "
        f"else {default('intra_op_threads')})",
    )
    parser.add_argument("--report", required=True, type=Path, help="folder for the report")


def _frame_task(path: Path) -> str:
    """``va`` or ``au``: the Aff-Wild2 task of a label file or folder, from its header."""
    first = path if path.is_file() else next(iter(sorted(path.glob("*.txt"))), None)
    header = ""
    if first is not None:
        header = first.read_text(errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    cells = tuple(c.strip() for c in header.split(","))
    for task in ("va", "au"):
        if cells[-len(labels_io.FRAME_COLUMNS[task]) :] == labels_io.FRAME_COLUMNS[task]:
            return task
    raise labels_io.LabelFileError(
        first or path,
        "is neither an Aff-Wild2 VA file (valence,arousal) nor an AU file "
        f"({','.join(labels_io.FRAME_COLUMNS['au'])})",
    )


def _pick_video(videos: dict[str, labels_io.VideoRows], bag: Path, path: Path) -> str:
    if len(videos) == 1:
        return next(iter(videos))
    if bag.name in videos:
        return bag.name
    raise EvalError(
        f"labels {path} hold {len(videos)} videos and none is named like the bag "
        f"({bag.name!r}); point --labels at that video's file"
    )


def load_file_labels(paths: list[Path], fmt: str, bag: Path, frames: int) -> Labels:
    """Read ``--labels`` files and check they hold one row per bag frame."""
    rows: dict[str, np.ndarray] = {}
    emi_row, video = None, ""
    for path in paths:
        task = {"affwild2": None, "emi-csv": "emi", "ah": "ah"}[fmt] or _frame_task(path)
        if task in rows or (task == "emi" and emi_row is not None):
            raise EvalError(f"--labels gives {task} labels twice; give each task once")
        videos = labels_io.read(path, task)
        video = _pick_video(videos, bag, path)
        values = videos[video].values
        if task == "emi":
            emi_row = values[0]
            continue
        if len(values) != frames:
            raise labels_io.LabelFileError(
                videos[video].source,
                f"has {len(values)} label rows but the bag has {frames} "
                "frames; labels must hold one row per bag frame",
            )
        rows[task] = values
    return Labels(source=", ".join(map(str, paths)), rows=rows, emi_row=emi_row, video=video)


def load_labels(args: argparse.Namespace, frames: int) -> Labels:
    """Labels from ``--labels`` files, else the bag's ground-truth topic, else none."""
    if args.labels:
        return load_file_labels(args.labels, args.label_format, args.bag, frames)
    available = topics(args.bag)
    if args.truth_topic in available and available[args.truth_topic][0] == AFFECT_TYPE:
        return Labels(
            source=f"the bag's {args.truth_topic} topic",
            truth=read_affect(args.bag, args.truth_topic),
        )
    return Labels(source="")


def run_replay(args: argparse.Namespace, inputs: Inputs) -> tuple[Replay, str | None]:
    """Replay the image topic; returns the replay and the model id if known."""
    with tqdm(total=inputs.frames, desc="eval", unit="frame", disable=None) as bar:
        frames = read_frames(args.bag, inputs.topic)
        if args.mode == "ros":
            from affect_perception.evaluation.replay import replay_ros

            replay = replay_ros(
                frames,
                topic=inputs.topic,
                msgtype=inputs.msgtype,
                model_dir=inputs.model_dir,
                rate=args.rate,
                params_file=args.params_file,
                params=inputs.overrides,
                progress=bar.update,
            )
            return replay, None
        from affect_perception.evaluation.replay import replay_inprocess
        from affect_perception.runtime.pipeline import AffectPipeline

        pipeline = AffectPipeline(node_pipeline_config(inputs.model_dir, **inputs.params))
        return replay_inprocess(frames, pipeline, progress=bar.update), pipeline.info.model_id


def record(path: Path, storage: str, replay: Replay) -> None:
    """Write the predictions as AffectStateArray messages stamped like their source frames."""
    with BagWriter(path, storage) as writer:
        rows = zip(replay.stamps, replay.frame_ids, replay.predictions, strict=True)
        for stamp, frame_id, result in rows:
            if stamp in replay.raw_outputs:
                writer.write_raw(PREDICTION_TOPIC, AFFECT_TYPE, replay.raw_outputs[stamp], stamp)
            elif result is not None:
                writer.write_msg(PREDICTION_TOPIC, result_to_msg(result, stamp, frame_id), stamp)


def score_series(series: Series, extra_notes: list[str]) -> dict:
    """Each labelled task's ABAW scores over the series (None where it cannot be scored)."""
    scores: dict = {}
    for task, keys in TASK_KEYS.items():
        scores.update(dict.fromkeys(keys))
        if task not in series.label:
            continue
        pred, label = series.pred[task], series.label[task]
        if len(pred) and np.isnan(pred).all():
            extra_notes.append(f"{task} not scored: the model has no {task} output")
            continue
        if task in NEGATIVE_MISSING:
            keep = (label >= 0).all(axis=1)
            pred, label = pred[keep], label[keep]
        metric = TASK_METRICS[task][0]
        try:
            scores.update(metric(pred, label))
        except ValueError as err:
            extra_notes.append(f"{task} not scored: {err}")
    return scores


def score_emi_video(
    series: Series, emi_row: np.ndarray, notes: list[str]
) -> tuple[dict, tuple[np.ndarray, np.ndarray]]:
    """EMI against one video's CSV row: the mean prediction over the scored frames."""
    label = emi_row.reshape(1, len(EMI_NAMES))
    if not len(series):
        notes.append("emi not scored: no scored frames")
        return {}, (np.zeros((0, len(EMI_NAMES))), label[:0])
    pred = series.pred["emi"].mean(axis=0, keepdims=True)
    if not np.isfinite(pred).all():
        notes.append("emi not scored: the model has no emi output")
        return {}, (pred[:0], label[:0])
    notes.append(
        "EMI Pearson r is taken over videos; one bag is one video, so emi_pearson is "
        "left out: pool emi_video of several reports to score it"
    )
    return {"emi_video": {"pred": pred[0].tolist(), "label": label[0].tolist()}}, (pred, label)


def summary(replay: Replay) -> dict:
    """Counts and timing of a replay."""
    answered = [p for p in replay.predictions if p is not None]
    p50, p95 = replay.latency_percentiles()
    return {
        "frames": len(replay.predictions),
        "frames_with_face": sum(len(p.faces) > 0 for p in answered),
        "faces": sum(len(p.faces) for p in answered),
        "tracks": len({str(t) for p in answered for t in p.faces.track_id}),
        "fps": finite_or_none(replay.fps),
        "latency_ms_p50": finite_or_none(p50),
        "latency_ms_p95": finite_or_none(p95),
        "dropped": replay.dropped,
    }


def _model_id(replay: Replay, model_dir: Path) -> str | None:
    for result in replay.predictions:
        if result is not None and len(result.faces):
            return result.model_id
    return read_model_json(model_dir).get("model_id")


@dataclass
class Inputs:
    """The checked inputs of one evaluation."""

    topic: str
    msgtype: str
    frames: int
    labels: Labels
    model_dir: Path
    params: dict[str, Any]  # node parameter values: the file's, then the flags'
    overrides: dict[str, Any]  # the flags' alone


def check_inputs(args: argparse.Namespace) -> Inputs:
    """Check everything that can be wrong before any model runs."""
    if not 0 < args.min_iou <= 1:
        raise EvalError(f"--min-iou must lie in (0, 1], got {args.min_iou}")
    output_folder(args.report, "--report")
    for path in args.labels or []:
        existing_path(path, "--labels")
    if (args.threads or 0) < 0 or args.rate <= 0:
        raise EvalError(
            f"--threads must be >= 0 and --rate > 0, got {args.threads} and {args.rate}"
        )
    topic, msgtype, count = choose_image_topic(args.bag, args.topic)
    first = next(read_frames(args.bag, topic), None)
    if first is None:
        raise BagError(f"image topic {topic!r} of bag {args.bag} holds no messages")
    try:
        first.decode()  # an unsupported encoding fails here, before any model loads
    except ImageDecodeError as err:
        raise EvalError(f"bag {args.bag}, topic {topic}, frame 0: {err}") from None
    labels = load_labels(args, count)
    model_dir = chosen_model(args.model)
    if args.record is not None and args.record.exists():
        raise EvalError(f"--record {args.record} already exists; remove it or choose another")
    overrides = {
        name: value
        for name, value in (("intra_op_threads", args.threads), ("precision", args.precision))
        if value is not None
    }
    params = {**(read_params_file(args.params_file) if args.params_file else {}), **overrides}
    try:
        node_pipeline_config(model_dir, **params)
    except ParameterError as err:
        raise EvalError(
            f"--params-file {args.params_file}: {err}" if args.params_file else str(err)
        ) from None
    return Inputs(topic, msgtype, count, labels, model_dir, params, overrides)


def pair(
    args: argparse.Namespace, labels: Labels, replay: Replay, notes: list[str]
) -> tuple[Series, MatchStats]:
    """Pair the replay's predictions with the labels (see align.py), noting what is missing."""
    warm_only = not args.all_frames
    if labels.truth is not None:
        unmatched = len(set(labels.truth) - set(replay.stamps))
        if unmatched:
            notes.append(
                f"{unmatched} of {len(labels.truth)} ground-truth messages have no "
                "image frame with their stamp and were not used"
            )
        return pair_with_truth(
            replay.stamps,
            replay.predictions,
            labels.truth,
            warm_only=warm_only,
            min_iou=args.min_iou,
        )
    if labels.rows is None:
        notes.append(
            f"no labels: the bag has no {args.truth_topic} topic and no --labels was "
            "given; only counts and timing are reported"
        )
    return pair_with_rows(
        replay.stamps, replay.predictions, labels.rows or {}, labels.video, warm_only=warm_only
    )


def evaluate(args: argparse.Namespace) -> dict:
    """Run the evaluation and write the report; returns report.json's content."""
    start = time.perf_counter()
    inputs = check_inputs(args)
    labels = inputs.labels
    replay, model_id = run_replay(args, inputs)
    if args.record is not None:
        record(args.record, args.storage, replay)
    notes = [] if args.all_frames else [WARM_NOTE]
    skipped = inputs.frames - len(replay.stamps)
    if skipped:  # a damaged bag whose reader stopped early without an error
        notes.append(
            f"partial read: {skipped} of the {inputs.frames} frames the bag's metadata "
            f"lists on {inputs.topic} could not be read (the bag is damaged or "
            "truncated); the scores cover the frames read"
        )
    series, stats = pair(args, labels, replay, notes)
    if labels.rows is None and labels.truth is None:
        stats = MatchStats()  # nothing was labelled
    scores = score_series(series, notes)
    extra, emi_rows = {}, None
    if labels.emi_row is not None:
        extra, emi_rows = score_emi_video(series, labels.emi_row, notes)
    if labels.source:
        missing = [
            t
            for t in TASK_KEYS
            if t not in series.label and not (t == "emi" and labels.emi_row is not None)
        ]
        if missing:
            notes.append(f"no labels for {', '.join(missing)}: their scores are null")
    report = {
        "bag": str(args.bag),
        "topic": inputs.topic,
        "mode": args.mode,
        "rate": args.rate if args.mode == "ros" else None,
        "model_id": model_id or _model_id(replay, inputs.model_dir),
        "labels": labels.source or None,
        "warm_only": not args.all_frames,
        "min_iou": args.min_iou,
        **scores,
        **extra,
        **summary(replay),
        "frames_skipped": skipped,
        "labelled_faces": stats.labelled_faces,
        "matched_faces": stats.matched_faces,
        "scored_faces": stats.scored_faces,
        "tracks_per_person": {k: len(v) for k, v in sorted(stats.tracks_per_person.items())},
        "notes": notes,
        "eval_seconds": round(time.perf_counter() - start, 3),
    }
    write_report(report, series, args.report, emi_rows=emi_rows)
    return report


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) if not isinstance(err, ReplayError) else str(err)


def run(args: argparse.Namespace) -> int:
    """Evaluate; a bad input gives one line on stderr and exit code 2."""
    try:
        report = evaluate(args)
    except KeyboardInterrupt:
        print("affect-perception eval: interrupted", file=sys.stderr)
        return 130
    except (
        InputError,
        BagError,
        labels_io.LabelFileError,
        ModelLoadError,
        ImageDecodeError,
        ReplayError,
    ) as err:
        print(f"affect-perception eval: error: {_one_line(err)}", file=sys.stderr)
        return 2
    headline = ", ".join(
        f"{k} {report[k]:.3f}"
        for k in ("va_ccc", "au_f1_mean", "ah_f1")
        if report.get(k) is not None
    )
    print(
        f"{report['frames']} frames, {report['frames_with_face']} with a face, "
        f"{report['fps'] or 0:.1f} fps{'; ' + headline if headline else ''}; report in "
        f"{args.report}"
    )
    return 0
