"""The node's processing path end to end, without ROS: camera timer → FrameWorker → pipeline.

A camera thread puts a synthetic 640 × 480 ``bgr8`` frame into the node's latest-frame slot
(:class:`FrameWorker`) every 1/fps seconds on an absolute schedule; the worker decodes it and
runs :class:`AffectPipeline`, then builds the ``AffectStateArray`` and serialises it as the
node's publisher does (stages ``publish`` and ``serialise``; rclpy's publish call itself, which
hands the bytes to DDS, is left out). Figures: the sustained output rate, latency from a
frame's arrival in the slot to the end of its serialisation, frames dropped in the slot, the
median of every stage, and the process's peak resident memory. Run in a child process
(``python -m affect_perception.bench.end_to_end``) so the memory is the pipeline's own, without
the benchmark's torch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affect_perception.bench.memory import peak_rss_mib
from affect_perception.runtime.image_decode import decode_image, encode_image
from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig
from affect_perception.serving.frame_worker import FrameWorker
from affect_perception.serving.settings import node_pipeline_config

# Camera frames: size, encoding, and frames rendered up front (played forwards then backwards,
# so faces never jump); rendering live would steal the CPU being measured. More faces than a
# row holds stand in rows, one rendered strip each, as in a group photo: eight side by side
# would be 80 px wide, too small for the BlazeFace back model at 640 px (it finds 1 to 3 of
# them; in two rows of four, 7 or 8).
FRAME_SIZE = (640, 480)
FACES_PER_ROW = 4
ENCODING = "bgr8"
RENDERED_FRAMES = 48
VIDEO_SEED = 7
# The bench's providers unless a run names others (the node's default tries the GPU's first).
CPU_ONLY = ("CPUExecutionProvider",)
# Seconds at the start left out of the figures: tracks confirming, windows filling, caches.
WARMUP_S = 2.0


@dataclass
class Stream:
    """One end-to-end run: the load, and node parameter values (name -> ROS value) over the
    node's defaults; the providers are the CPU's unless ``params`` names them (the node tries
    the GPU's first)."""

    faces: int = 1
    seconds: float = 10.0
    fps: float = 30.0
    params: dict[str, Any] = field(default_factory=dict)


def render_frames(faces: int, count: int = RENDERED_FRAMES) -> list[tuple[int, bytes]]:
    """``count`` synthetic frames with ``faces`` faces as ``bgr8`` (step, data), ping-pong;
    at most FACES_PER_ROW faces side by side, more in rows of strips."""
    from affect_perception.synth.scene import render_video

    rows = -(-faces // FACES_PER_ROW)
    width, height = FRAME_SIZE
    strips = [
        [
            frame.image
            for frame in render_video(
                VIDEO_SEED + row,
                count // 2,
                faces=faces // rows + (row < faces % rows),
                size=(width, height // rows + (row < height % rows)),
            )
        ]
        for row in range(rows)
    ]
    frames = [np.concatenate(images) for images in zip(*strips, strict=True)]
    encoded = [encode_image(frame, ENCODING) for frame in frames]
    return encoded + encoded[::-1]


def stream_config(model_dir: Path, stream: Stream) -> PipelineConfig:
    """The node's pipeline configuration with the parameter values in ``stream``."""
    return node_pipeline_config(model_dir, **{"providers": list(CPU_ONLY), **stream.params})


def pipeline_for(model_dir: Path, stream: Stream) -> AffectPipeline:
    """The pipeline with the node's defaults except the knobs in ``stream``."""
    return AffectPipeline(stream_config(model_dir, stream))


def run_stream(pipeline: AffectPipeline, stream: Stream) -> dict[str, object]:
    """Feed rendered frames at ``stream.fps`` for ``stream.seconds`` and measure.

    Returns:
        JSON-ready figures: ``fps_in``, ``fps_out``, ``latency_ms`` (p50, p99, max),
        ``received``, ``handled``, ``dropped``, ``failed``, ``faces_per_frame`` (mean),
        ``stage_ms`` (median per pipeline stage) and ``peak_rss_mib``.
    """
    width, height = FRAME_SIZE
    frames = render_frames(stream.faces)
    done: list[tuple[float, float, int, dict[str, float]]] = []  # arrival, end, faces, stages

    from rclpy.serialization import serialize_message
    from std_msgs.msg import Header

    from affect_perception.ros.conversions import frame_message, seconds_to_stamp

    def handle(item: tuple[int, float]) -> None:
        index, arrival = item
        step, data = frames[index % len(frames)]
        start = time.perf_counter()
        rgb = decode_image(ENCODING, width, height, step, False, data)
        decoded = time.perf_counter()
        result = pipeline.process(rgb, stamp=arrival)
        processed = time.perf_counter()
        message = frame_message(result, Header(stamp=seconds_to_stamp(arrival)))
        built = time.perf_counter()
        serialize_message(message)
        end = time.perf_counter()
        stages = {
            **result.timings_ms,
            "decode": (decoded - start) * 1e3,
            "publish": (built - processed) * 1e3,
            "serialise": (end - built) * 1e3,
        }
        done.append((arrival, end, len(result.faces), stages))

    errors: list[Exception] = []
    worker: FrameWorker[tuple[int, float]] = FrameWorker(handle, lambda _f, e: errors.append(e))
    worker.start()
    start = time.perf_counter()
    period, total = 1.0 / stream.fps, int(stream.seconds * stream.fps)
    for index in range(total):
        time.sleep(max(0.0, start + index * period - time.perf_counter()))
        worker.submit((index, time.perf_counter()))
    end = time.perf_counter()
    worker.stop()
    if errors:
        raise RuntimeError(f"{len(errors)} frames failed in the pipeline, first: {errors[0]!r}")
    counts = worker.counts()
    measured = [d for d in done if d[0] >= start + WARMUP_S]
    span = end - (start + WARMUP_S)
    latency = np.array([(d[1] - d[0]) * 1e3 for d in measured])
    stages = sorted({s for d in measured for s in d[3]})
    return {
        "faces": stream.faces,
        "seconds": stream.seconds,
        "fps_in": total / (end - start),
        "fps_out": len(measured) / span,
        "latency_ms": {
            "p50": float(np.percentile(latency, 50)),
            "p99": float(np.percentile(latency, 99)),
            "max": float(latency.max()),
        },
        "received": counts.received,
        "handled": counts.handled,
        "dropped": counts.dropped,
        "failed": counts.failed,
        "faces_per_frame": float(np.mean([d[2] for d in measured])),
        "stage_ms": {s: float(np.median([d[3].get(s, 0.0) for d in measured])) for s in stages},
        "peak_rss_mib": peak_rss_mib(),
        "frame_store_mib": sum(len(data) for _, data in frames) / 2**20,
    }


def run_in_child(model_dir: Path, stream: Stream, timeout_s: float = 600.0) -> dict[str, object]:
    """`run_stream` in a fresh interpreter (this module's ``main``); returns its figures."""
    args = [
        sys.executable,
        "-m",
        __name__,
        "--model-dir",
        str(model_dir),
        "--faces",
        str(stream.faces),
        "--seconds",
        str(stream.seconds),
        "--fps",
        str(stream.fps),
        "--params",
        json.dumps(stream.params),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"end-to-end run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Child entry point: one `run_stream`, its figures as one JSON line on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    defaults = Stream()
    for name in ("faces", "seconds", "fps"):
        value = getattr(defaults, name)
        parser.add_argument("--" + name, type=type(value), default=value)
    parser.add_argument(
        "--params", type=json.loads, default={}, help="node parameter values as a JSON object"
    )
    args = vars(parser.parse_args(argv))
    model_dir = args.pop("model_dir")
    stream = Stream(**args)
    print(json.dumps(run_stream(pipeline_for(model_dir, stream), stream)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
