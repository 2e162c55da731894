"""``affect-perception make-bag``: write camera frames (and synthetic ground truth) to a bag.

Sources: a synthetic video with labels (``--synthetic``), a video file (``--video``, read
with OpenCV) or a folder of JPEG/PNG images (``--images``, sorted by name). Frames go to
``/camera/image_raw`` as ``sensor_msgs/Image`` (``--encoding rgb8`` or ``bgr8``) or to
``/camera/image_raw/compressed`` as JPEG ``CompressedImage`` (``--compressed``), stamped
``START_TIME_NS`` + i / fps (synthetic: + the frame's own time). Synthetic bags also carry
``/ground_truth/affect``: one ``AffectStateArray`` per frame with the same stamp, one
``AffectState`` per visible face (track_id ``person<k>``, roi the true box, the labels in the
affect fields, window fields 0, model_id ``ground-truth``). Unlabelled values use the
Aff-Wild2 markers: valence/arousal -5, AU probabilities -1, EMI and hesitancy probability -1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from affect_perception.detections import Detections
from affect_perception.evaluation.bag_io import (
    COMPRESSED_TOPIC,
    GROUND_TRUTH_MODEL_ID,
    GROUND_TRUTH_TOPIC,
    IMAGE_TOPIC,
    NS_PER_S,
    STORAGE_PLUGINS,
    BagError,
    BagWriter,
)
from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_MISSING, AU_NAMES, EMI_NAMES, VA_MISSING

if TYPE_CHECKING:
    from affect_perception.synth.scene import FaceTruth

# Stamp of the first frame (2023-11-14T22:13:20Z): a plausible wall-clock time, never zero.
START_TIME_NS = 1_700_000_000 * NS_PER_S
# Image file types --images reads.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Marker of an unlabelled EMI intensity or hesitancy probability (valid values lie in 0..1).
PROBABILITY_MISSING = -1.0
DEFAULT_SIZE = (640, 480)


class SourceError(ValueError):
    """A video or image folder that cannot be read."""


Frame = tuple[np.ndarray, int, FrameResult | None]  # RGB, stamp (ns), ground truth


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``make-bag`` options."""
    parser.add_argument("--out", required=True, type=Path, help="bag folder to create")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--synthetic", action="store_true", help="render a synthetic video with ground truth"
    )
    source.add_argument("--video", type=Path, help="a video file OpenCV can read")
    source.add_argument("--images", type=Path, help="a folder of .jpg/.png frames (sorted)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic: random seed")
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="frames to write (synthetic: default 300; else: all)",
    )
    parser.add_argument(
        "--fps", type=float, default=None, help="frame rate (default: the video's, else 30)"
    )
    parser.add_argument("--faces", type=int, default=1, help="synthetic: faces per video")
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="WxH",
        help="synthetic: frame size (default 640x480)",
    )
    parser.add_argument(
        "--compressed",
        action="store_true",
        help=f"JPEG CompressedImage on {COMPRESSED_TOPIC} instead of raw Image",
    )
    parser.add_argument(
        "--encoding", choices=("rgb8", "bgr8"), default="rgb8", help="raw Image encoding"
    )
    parser.add_argument(
        "--storage", choices=sorted(STORAGE_PLUGINS), default="mcap", help="rosbag2 storage format"
    )
    parser.add_argument(
        "--topic", default=None, help=f"image topic (default {IMAGE_TOPIC} or {COMPRESSED_TOPIC})"
    )


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return width, height


def truth_result(
    faces: list[FaceTruth], stamp_s: float, image_size: tuple[int, int]
) -> FrameResult:
    """Synthetic ground truth as a FrameResult: the faces in view, labels in the affect fields."""
    faces = [face for face in faces if face.visible > 0]
    rows = [_truth_row(face) for face in faces]

    def column(key: str, width: int = 0) -> np.ndarray:
        shape = (len(rows), width) if width else (len(rows),)
        return np.array([row[key] for row in rows], np.float32).reshape(shape)

    au, ah = column("au", len(AU_NAMES)), column("ah")
    data = {
        "valence": column("valence"),
        "arousal": column("arousal"),
        "au_prob": au,
        "au_active": au == 1,
        "emi": column("emi", len(EMI_NAMES)),
        "ah_prob": ah,
        "ah": ah == 1,
        "window_fill": np.zeros(len(rows), np.int64),
    }
    detections = Detections(
        xyxy=np.array([face.box for face in faces], np.float32).reshape(-1, 4),
        score=np.ones(len(rows), np.float32),
        track_id=np.array([f"person{face.person}" for face in faces], dtype=object),
        data=data,
    )
    return FrameResult(
        stamp=stamp_s,
        image_size=image_size,
        faces=detections,
        window_size=0,
        model_id=GROUND_TRUTH_MODEL_ID,
    )


def _truth_row(face: FaceTruth) -> dict[str, object]:
    """One face's labels, with the missing markers where it has none."""
    if not face.labelled:
        return {
            "valence": VA_MISSING,
            "arousal": VA_MISSING,
            "au": np.full(len(AU_NAMES), AU_MISSING),
            "ah": PROBABILITY_MISSING,
            "emi": np.full(len(EMI_NAMES), PROBABILITY_MISSING),
        }
    return {
        "valence": face.valence,
        "arousal": face.arousal,
        "au": np.asarray(face.au),
        "ah": float(face.ah),
        "emi": np.asarray(face.emi),
    }


def synthetic_frames(args: argparse.Namespace) -> Iterator[Frame]:
    """Frames and ground truth of a synthetic video."""
    from affect_perception.synth.scene import render_video

    fps = args.fps or 30.0
    frames = 300 if args.frames is None else args.frames
    for frame in render_video(
        seed=args.seed, frames=frames, faces=args.faces, size=args.size, fps=fps
    ):
        stamp = START_TIME_NS + round(frame.stamp * NS_PER_S)
        size = (frame.image.shape[1], frame.image.shape[0])
        yield frame.image, stamp, truth_result(list(frame.faces), stamp / NS_PER_S, size)


def video_frames(path: Path, fps: float | None, limit: int | None) -> Iterator[Frame]:
    """Frames of a video file, stamped by ``fps`` (default: the file's own rate)."""
    if not path.is_file():
        raise SourceError(f"video {path} does not exist; give a video file OpenCV can read")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"cannot open video {path}; give a video file OpenCV can read")
    try:
        rate = fps or capture.get(cv2.CAP_PROP_FPS) or 30.0
        index = 0
        while limit is None or index < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), _stamp(index, rate), None
            index += 1
        if index == 0:
            raise SourceError(f"video {path} holds no frame OpenCV can decode")
    finally:
        capture.release()


def image_frames(folder: Path, fps: float | None, limit: int | None) -> Iterator[Frame]:
    """The .jpg/.png files of a folder in name order, stamped by ``fps`` (default 30)."""
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder; give a folder of .jpg/.png images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"{folder} holds no {'/'.join(IMAGE_SUFFIXES)} files")
    for index, path in enumerate(files[:limit]):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SourceError(f"cannot read image {path}; remove it or replace it")
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), _stamp(index, fps or 30.0), None


def _stamp(index: int, fps: float) -> int:
    return START_TIME_NS + round(index * NS_PER_S / fps)


def write_bag(args: argparse.Namespace) -> tuple[int, str]:
    """Write the bag; returns (frames written, image topic)."""
    if args.synthetic:
        frames = synthetic_frames(args)
    elif args.video is not None:
        frames = video_frames(args.video, args.fps, args.frames)
    else:
        frames = image_frames(args.images, args.fps, args.frames)
    topic = args.topic or (COMPRESSED_TOPIC if args.compressed else IMAGE_TOPIC)
    count = 0
    try:
        with BagWriter(args.out, args.storage) as writer:
            for rgb, stamp, truth in tqdm(
                frames, desc="make-bag", unit="frame", total=args.frames, disable=None
            ):
                writer.write_image(
                    topic, rgb, stamp, compressed=args.compressed, encoding=args.encoding
                )
                if truth is not None:
                    writer.write_result(GROUND_TRUTH_TOPIC, truth, stamp)
                count += 1
    except SourceError:
        _remove_bag(args.out)
        raise
    return count, topic


def _remove_bag(path: Path) -> None:
    """Delete a bag folder this command created but could not finish."""
    if path.is_dir():
        for file in path.iterdir():
            file.unlink()
        path.rmdir()


def run(args: argparse.Namespace) -> int:
    """Write the bag; a bad input gives one line on stderr and exit code 2."""
    for name in ("frames", "fps", "faces"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            print(
                f"affect-perception make-bag: error: --{name} must be positive, got {value}",
                file=sys.stderr,
            )
            return 2
    try:
        count, topic = write_bag(args)
    except (BagError, SourceError) as err:
        print(f"affect-perception make-bag: error: {err}", file=sys.stderr)
        return 2
    extra = f" and ground truth on {GROUND_TRUTH_TOPIC}" if args.synthetic else ""
    print(f"wrote {args.out}: {count} frames on {topic}{extra} ({args.storage})")
    return 0
