"""`affect-perception demo`: the real node on a synthetic clip, and what it saw.

Renders a short synthetic video (faces the project draws itself), starts
``affect_perception_node`` as a child process with the package's parameter file, plays the
frames into it over ROS (loopback only) at the clip's frame rate, prints a one-line summary per
second, and writes the node's overlay frames as a PNG contact sheet (and an MP4 on request)
into the output folder. Uses the bundled demo model; while none is bundled, it exports a
randomly initialised model into the output folder and says plainly that its numbers mean
nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from affect_perception.child_process import stop_child
from affect_perception.cli_errors import model_folder, output_folder
from affect_perception.model_files import is_model_dir
from affect_perception.resources import bundled_model_dir, params_file

# Clip settings of the default demo: short enough for a few minutes on a laptop CPU.
DEFAULT_SECONDS = 8.0
DEFAULT_FPS = 30.0
DEFAULT_FACES = 2
DEFAULT_SIZE = (640, 480)
DEFAULT_SEED = 7
# Longest waits in seconds: the node loading its model, the last outputs, the node's exit.
NODE_START_S = 90.0
DRAIN_S = 5.0
NODE_STOP_S = 15.0
# Overlay frames in the contact sheet, its columns and tile width in pixels.
SHEET_FRAMES = 8
SHEET_COLUMNS = 4
SHEET_TILE_WIDTH = 320
# Width the overlay frames are kept at for the video (memory stays small for long clips).
VIDEO_WIDTH = 640
NODE_NAME = "affect_perception_node"
IMAGE_TOPIC = "/demo/image"
UNTRAINED_DIR = "untrained_model"
UNTRAINED_NOTE = (
    "UNTRAINED MODEL: randomly initialised weights. Faces, boxes, ids and "
    "timing are real; the valence, arousal, AU, EMI and hesitancy values are "
    "NOT (no trained demo model is bundled yet)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to ``parser``."""
    parser.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="model folder (default: the bundled demo model; without one, an "
        "untrained model exported into the output folder)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help=f"clip length (default: {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=DEFAULT_FPS,
        help=f"frame rate the clip is played at (default: {DEFAULT_FPS:g})",
    )
    parser.add_argument(
        "--faces",
        type=int,
        default=DEFAULT_FACES,
        help=f"faces in the clip (default: {DEFAULT_FACES})",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        help="frame size WIDTHxHEIGHT (default: 640x480)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="clip seed")
    parser.add_argument("--mp4", action="store_true", help="also write the overlay as overlay.mp4")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def choose_model(args: argparse.Namespace) -> tuple[Path, bool]:
    """(model folder, trained?): --model, the bundled demo model, or an untrained export."""
    if args.model is not None:
        return args.model, True
    try:
        return bundled_model_dir(), True
    except FileNotFoundError:
        pass
    folder = args.out / UNTRAINED_DIR
    if not is_model_dir(folder):
        print(f"exporting an untrained (random-init) model to {folder} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "affect_perception.cli",
                "export",
                "--random-init",
                "--variant",
                "single",
                "--window",
                "8",
                "--out",
                str(folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder, False


@dataclass
class Outputs:
    """What came back from the node."""

    affect: list[Any] = field(default_factory=list)
    overlays: dict[int, np.ndarray] = field(default_factory=dict)  # frame index -> RGB
    diagnostics: dict[str, str] = field(default_factory=dict)


def frame_index(stamp: Any, fps: float) -> int:
    """The clip frame a header stamp belongs to (stamps are index / fps)."""
    return round((stamp.sec + stamp.nanosec * 1e-9) * fps)


def summary_line(elapsed: float, sent: int, outputs: Outputs) -> str:
    """One line: time, the rates and latency the node reports, each face of the newest output."""
    faces = []
    if outputs.affect:
        for face in outputs.affect[-1].faces:
            state = (
                "warm"
                if face.window_fill >= face.window_size
                else f"{face.window_fill}/{face.window_size}"
            )
            hesitant = " hesitant" if face.hesitancy else ""
            faces.append(
                f"{face.track_id} V{face.valence:+.2f} A{face.arousal:+.2f} {state}{hesitant}"
            )
    diag = outputs.diagnostics
    return (
        f"t={elapsed:4.1f}s sent {sent / max(elapsed, 1e-9):4.1f} fps | node in "
        f"{diag.get('input rate (Hz)', '-')} out {diag.get('output rate (Hz)', '-')} fps, "
        f"latency p50 {diag.get('latency p50 (ms)', '-')} p95 "
        f"{diag.get('latency p95 (ms)', '-')} ms | {len(faces)} faces: "
        + ("; ".join(faces) or "-")
    )


def write_results(
    out: Path, outputs: Outputs, frames: int, fps: float, trained: bool, mp4: bool
) -> list[Path]:
    """The contact sheet (and video) of the overlay frames; returns the files written."""
    from affect_perception.visualize.overlay import contact_sheet

    indices = sorted(outputs.overlays)
    if not indices:
        return []
    picks = [
        indices[round(k)]
        for k in np.linspace(0, len(indices) - 1, min(SHEET_FRAMES, len(indices)))
    ]
    sheet = contact_sheet([outputs.overlays[i] for i in picks], SHEET_COLUMNS, SHEET_TILE_WIDTH)
    if not trained:
        sheet = _captioned(sheet, UNTRAINED_NOTE)
    written = [out / "overlay_strip.png"]
    cv2.imwrite(str(written[0]), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if mp4:
        written.append(out / "overlay.mp4")
        height, width = outputs.overlays[indices[0]].shape[:2]
        video = cv2.VideoWriter(
            str(written[1]), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height)
        )
        latest = None
        for index in range(indices[0], frames):  # real time: hold the last frame the node saw
            latest = outputs.overlays.get(index, latest)
            video.write(cv2.cvtColor(latest, cv2.COLOR_RGB2BGR))
        video.release()
    return written


def _captioned(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` in red below it, wrapped to the image's width."""
    font, scale, line = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 22
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(candidate, font, scale, 1)[0][0] <= image.shape[1] - 12:
            lines[-1] = candidate
        else:
            lines.append(word)
    band = np.full((line * len(lines) + 8, image.shape[1], 3), 255, np.uint8)
    for k, words in enumerate(lines):
        cv2.putText(band, words, (6, line * (k + 1)), font, scale, (200, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([image, band])


def _keep(overlay: Any) -> tuple[int, np.ndarray]:
    from affect_perception.runtime.image_decode import decode_image_msg

    rgb = decode_image_msg(overlay)
    if rgb.shape[1] > VIDEO_WIDTH:
        height = round(rgb.shape[0] * VIDEO_WIDTH / rgb.shape[1])
        rgb = cv2.resize(rgb, (VIDEO_WIDTH, height), interpolation=cv2.INTER_AREA)
    return overlay.header.stamp, np.ascontiguousarray(rgb)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the node processed the clip, 1 otherwise."""
    if args.seconds <= 0 or args.fps <= 0 or args.faces < 1:
        print(
            "affect-perception demo: --seconds, --fps and --faces must be positive",
            file=sys.stderr,
        )
        return 1
    output_folder(args.out, "--out")
    if args.model is not None:
        model_folder(args.model, "--model")  # before anything is rendered
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
    os.environ.setdefault("ROS_LOG_DIR", str((args.out / "ros_log").resolve()))
    model, trained = choose_model(args)
    print(f"model: {model}", flush=True)
    card = model / "MODEL_CARD.md"
    if trained and card.is_file():
        print(f"  what it has seen, how it was trained and how well it scores: {card}", flush=True)
    if not trained:
        print("\n" + "!" * 78 + f"\n{UNTRAINED_NOTE}\n" + "!" * 78 + "\n", flush=True)
    log_path = args.out / "node.log"
    command = [
        sys.executable,
        "-m",
        "affect_perception.ros.node",
        "--ros-args",
        "--params-file",
        str(params_file()),
        "-p",
        f"model_dir:={model.resolve()}",
        "-p",
        "publish_overlay:=true",
        "-p",
        "image_reliability:=reliable",
        "-r",
        f"image:={IMAGE_TOPIC}",
    ]
    # a reliable subscription: best effort loses most large raw frames on one machine
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            outputs, sent, elapsed = _play(args, proc, log_path)
        finally:
            stop_child(proc, signal.SIGINT, NODE_STOP_S)
    if outputs is None:
        return 1
    frames = round(args.seconds * args.fps)
    written = write_results(args.out, outputs, frames, args.fps, trained, args.mp4)
    faces = sum(len(m.faces) for m in outputs.affect)
    print(
        f"\nsent {sent} frames in {elapsed:.1f} s; the node answered {len(outputs.affect)} "
        f"({len(outputs.affect) / max(elapsed, 1e-9):.1f} fps, {faces} face estimates; it "
        f"skips stale frames when it falls behind); node exit status {proc.returncode}"
    )
    for path in written:
        print(f"wrote {path}")
    print(f"node log: {log_path}")
    if not trained:
        print(UNTRAINED_NOTE)
    return 0 if outputs.affect and proc.returncode == 0 else 1


def _play(
    args: argparse.Namespace, proc: subprocess.Popen, log_path: Path
) -> tuple[Outputs | None, int, float]:
    """Render the clip, wait for the node, publish at the clip's rate and collect outputs."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from affect_perception.msg import AffectStateArray
    from affect_perception.ros.conversions import image_message, seconds_to_stamp
    from affect_perception.synth.scene import render_video

    frames = round(args.seconds * args.fps)
    print(
        f"rendering {frames} synthetic frames ({args.faces} faces, "
        f"{args.size[0]}x{args.size[1]}) while the node starts ...",
        flush=True,
    )
    messages = [
        image_message(
            f.image, Header(stamp=seconds_to_stamp(f.index / args.fps), frame_id="demo_camera")
        )
        for f in render_video(args.seed, frames, args.faces, args.size, args.fps)
    ]
    outputs = Outputs()

    def on_overlay(msg: Image) -> None:
        stamp, rgb = _keep(msg)
        outputs.overlays[frame_index(stamp, args.fps)] = rgb

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith(NODE_NAME):
                outputs.diagnostics = {kv.key: kv.value for kv in status.values}

    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        node = rclpy.create_node("affect_perception_demo", context=context)
        executor.add_node(node)
        publisher = node.create_publisher(Image, IMAGE_TOPIC, 10)
        affect = node.create_subscription(
            AffectStateArray, f"/{NODE_NAME}/affect", outputs.affect.append, 100
        )
        node.create_subscription(Image, f"/{NODE_NAME}/overlay", on_overlay, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
        deadline = time.monotonic() + NODE_START_S
        while not (publisher.get_subscription_count() and affect.get_publisher_count()):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(
                    f"the node did not start; {log_path} ends with:\n"
                    + "\n".join(log_path.read_text(errors="replace").splitlines()[-15:]),
                    file=sys.stderr,
                )
                return None, 0, 0.0
            executor.spin_once(timeout_sec=0.05)
        print(
            f"node up; playing {frames} frames at {args.fps:g} fps into {IMAGE_TOPIC}", flush=True
        )
        start = time.monotonic()
        next_line = start + 1.0
        for i, msg in enumerate(messages):
            publisher.publish(msg)
            due = start + (i + 1) / args.fps
            while (now := time.monotonic()) < due:
                executor.spin_once(timeout_sec=due - now)
                if now >= next_line:
                    print(summary_line(now - start, i + 1, outputs), flush=True)
                    next_line += 1.0
        elapsed = time.monotonic() - start
        last = messages[-1].header.stamp
        drain_until = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_until and not (
            outputs.affect and outputs.affect[-1].header.stamp == last
        ):
            executor.spin_once(timeout_sec=0.05)
        return outputs, len(messages), elapsed
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)
