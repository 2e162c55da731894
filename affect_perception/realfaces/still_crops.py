"""Why a still face reads hesitant: the same still clip with other face crops, side by side.

``python -m affect_perception.realfaces.still_crops [--model DIR]`` runs a model over the
``still`` (and ``mirror``) clips of check-set photos five ways and prints a Markdown table of
the share of warm frames called hesitant and the mean A/H probability:

- ``detector``: as realcheck runs it (BlazeFace boxes and keypoints of each frame);
- ``tripod``: the photo with no camera jitter at all (a truly still input);
- ``ideal``: the hand-held clip, each frame's crop moved exactly with the camera's warp from
  the tripod frame's detection (the face never moves inside its crop);
- ``smoothed 0.3`` / ``smoothed 0.1``: the detector's boxes and keypoints averaged
  exponentially (that weight on the newest) before alignment, a tracker-side smoothing.

A face hesitant on the tripod is read so from its look; one hesitant only with the detector's
crops, from crop jitter. Figures for the demo model: docs/REALFACES.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from affect_perception.cli_options import add_model_option, chosen_model
from affect_perception.detections import Detections
from affect_perception.realfaces import checkset
from affect_perception.realfaces.clips import ClipSpec, frame_warps, make_clip
from affect_perception.realfaces.realcheck import CHECK_THRESHOLD, CLIP_FPS
from affect_perception.runtime.detection.base import DetectorConfig, build_detector
from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig

MODES = ("detector", "tripod", "ideal", "smoothed 0.3", "smoothed 0.1")


class ReplayDetector:
    """A detector that returns given detections, one entry per call."""

    def __init__(self, detections: list[Detections]) -> None:
        self._detections = iter(detections)

    def detect(self, rgb: np.ndarray) -> Detections:
        return next(self._detections)


def hesitancy(
    model_dir: Path, frames: list[np.ndarray], detections: list[Detections] | None = None
) -> tuple[float | None, float | None]:
    """(share of warm frames called hesitant, mean A/H probability) of the largest face."""
    pipeline = AffectPipeline(
        PipelineConfig(
            model_dir=model_dir,
            intra_op_threads=1,
            max_faces=1,
            detector=DetectorConfig(score_threshold=CHECK_THRESHOLD),
        )
    )
    if detections is not None:
        pipeline.detector = ReplayDetector(detections)
    probs = []
    for i, frame in enumerate(frames):
        faces = pipeline.process(frame, stamp=i / CLIP_FPS).faces
        if len(faces) and faces.data["window_fill"][0] >= pipeline.window_size:
            probs.append(float(faces.data["ah_prob"][0]))
    if not probs:
        return None, None
    return float(np.mean(np.asarray(probs) >= pipeline.config.ah_threshold)), float(np.mean(probs))


def _largest(detections: Detections) -> Detections:
    return detections[np.argsort(-detections.area, kind="stable")[:1]]


def ideal_detections(
    first: Detections, warps: list[np.ndarray], tripod: np.ndarray
) -> list[Detections]:
    """``first`` (found on the tripod frame made by the affine ``tripod``) carried into each
    frame by that frame's warp relative to the tripod's."""
    inverse = np.linalg.inv(np.vstack([tripod, [0, 0, 1]]))
    box, points = first.xyxy[0].astype(np.float64), first.keypoints[0].astype(np.float64)
    half = (box[2:] - box[:2]) / 2
    out = []
    for warp in warps:
        rel = (np.vstack([warp, [0, 0, 1]]) @ inverse)[:2]
        centre = rel[:, :2] @ ((box[:2] + box[2:]) / 2) + rel[:, 2]
        out.append(
            Detections(
                xyxy=np.concatenate([centre - half, centre + half])[None].astype(np.float32),
                score=first.score.copy(),
                keypoints=(points @ rel[:, :2].T + rel[:, 2])[None].astype(np.float32),
            )
        )
    return out


def smoothed(detections: list[Detections], weight: float) -> list[Detections]:
    """The largest face's box and keypoints, exponentially averaged (``weight`` on the newest)."""
    out, state = [], None
    for found in detections:
        if not len(found):
            out.append(found)
            continue
        face = _largest(found)
        now = np.concatenate([face.xyxy[0], face.keypoints[0].ravel()]).astype(np.float64)
        state = now if state is None else state + weight * (now - state)
        out.append(
            Detections(
                xyxy=state[:4][None].astype(np.float32),
                score=face.score,
                keypoints=state[4:].reshape(1, -1, 2).astype(np.float32),
            )
        )
    return out


def study(model_dir: Path, photo: np.ndarray, spec: ClipSpec) -> dict[str, tuple]:
    """Mode -> (hesitant share, mean probability) over one clip of ``photo``."""
    frames = make_clip(photo, spec)
    still = replace(spec, jitter=0.0)
    tripod = make_clip(photo, still)
    detector = build_detector(DetectorConfig(score_threshold=CHECK_THRESHOLD))
    found = [detector.detect(f) for f in frames]
    first = _largest(detector.detect(tripod[0]))
    results = {
        "detector": hesitancy(model_dir, frames, found),
        "tripod": hesitancy(model_dir, tripod),
    }
    if len(first):
        warps = [m for m, _ in frame_warps(photo.shape, spec)]
        ideal = ideal_detections(first, warps, frame_warps(photo.shape, still)[0][0])
        results["ideal"] = hesitancy(model_dir, frames, ideal)
    for weight in (0.3, 0.1):
        results[f"smoothed {weight}"] = hesitancy(model_dir, frames, smoothed(found, weight))
    return results


def _cell(result: tuple | None) -> str:
    if result is None or result[0] is None:
        return "n/a"
    return f"{100 * result[0]:.0f} % / {result[1]:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Print the table; 2 on a bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m affect_perception.realfaces.still_crops",
        description=__doc__.splitlines()[0],
    )
    add_model_option(parser)
    parser.add_argument("--photos", default="astronaut,camera", help="check-set photos")
    parser.add_argument("--kinds", default="still,mirror", help="clip kinds: still, mirror")
    parser.add_argument("--frames", type=int, default=60, help="frames per clip")
    args = parser.parse_args(argv)
    try:
        model_dir = chosen_model(args.model)
        specs = [ClipSpec(kind=k, frames=args.frames) for k in args.kinds.split(",")]
        photos = {n: checkset.load_photo(n) for n in args.photos.split(",")}
    except (ValueError, FileNotFoundError, KeyError) as err:  # InputError is a ValueError
        print(f"still_crops: {err}", file=sys.stderr)
        return 2
    print("| clip | " + " | ".join(MODES) + " |\n|---|" + "---|" * len(MODES))
    for name, photo in photos.items():
        for spec in specs:
            results = study(model_dir, photo, spec)
            print(
                f"| {name}/{spec.kind} | "
                + " | ".join(_cell(results.get(m)) for m in MODES)
                + " |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
