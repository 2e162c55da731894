"""`realcheck`: what a model does on the real faces of the check set, as one JSON-able report.

Measured per model, with no labels of the people (none exist offline):

- detection: the labelled face centres (`checkset.FACE_CENTRES`) found by the detector at its
  default threshold and at the threshold realcheck runs the pipeline with;
- ids: distinct track ids over each clip of a still photo (more than one per face is churn);
- still-face hesitancy: share of warm face-frames called hesitant over each clip;
- invariances: each face's outputs on the photo mirrored, shifted by a few pixels and 10 %
  brighter/darker, against the photo itself (the change in valence and the largest change of
  an AU probability);
- agreement with the teachers (`teachers.ensemble`): Spearman correlation over faces between
  each output the teachers cover and the teachers' signals, with the teachers' agreement with
  each other beside it as a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.stats import spearmanr

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.model_files import read_model_json
from affect_perception.realfaces import checkset
from affect_perception.realfaces.clips import CLIP_KINDS, ClipSpec, make_clip
from affect_perception.realfaces.teachers import geometry
from affect_perception.realfaces.teachers.ensemble import (
    CLASSES,
    FaceTeaching,
    Teachers,
    expression_signals,
    roll_degrees,
)
from affect_perception.runtime.detection.base import DetectorConfig, build_detector
from affect_perception.runtime.pipeline import AffectPipeline, PipelineConfig

# Detector threshold realcheck runs the pipeline with: low enough that every labelled face
# of the check set is found (the default 0.75 misses 4 of the 22 group-photo faces).
CHECK_THRESHOLD = 0.5
# Frame rate the clips are stamped at.
CLIP_FPS = 30.0
# Frames beyond the window a still view runs for (the tracker confirms a face after a few).
WARM_UP_FRAMES = 4
# Largest change of valence or an AU probability counted as invariant.
INVARIANCE_LIMIT = 0.1
# Fewest faces a Spearman correlation is computed over.
MIN_FACES = 3
# Model AUs with a FaceMesh proxy.
GEOMETRY_AUS = tuple(geometry.AU_PROXIES)


@dataclass(frozen=True)
class RealcheckConfig:
    """What realcheck measures.

    Attributes:
        model_dir: model folder (encoder.onnx, temporal.onnx, model.json).
        photos: check-set photos whose faces are measured (detection, invariance, teachers).
        clip_photos: photos filmed as clips for ids and still-face hesitancy.
        clip_kinds: clip kinds filmed (`clips.CLIP_KINDS`).
        frames: frames per clip.
        seed: seed of the clips' jitter.
        shift_px: shift of the shifted view, pixels in x and y.
        brightness: relative brightness change of the brighter/darker views.
        teachers: run the teachers (off: no agreement section).
        threads: onnxruntime threads.
        cache: model cache holding the check set (default `assets.cache_dir`).
    """

    model_dir: Path
    photos: tuple[str, ...] = checkset.PHOTOS
    clip_photos: tuple[str, ...] = checkset.PHOTOS
    clip_kinds: tuple[str, ...] = CLIP_KINDS
    frames: int = 60
    seed: int = 0
    shift_px: float = 3.0
    brightness: float = 0.1
    teachers: bool = True
    threads: int = 1
    cache: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted((set(self.photos) | set(self.clip_photos)) - set(checkset.PHOTOS))
        if unknown:
            raise ValueError(
                f"unknown check-set photos {unknown}; choose from {list(checkset.PHOTOS)}"
            )
        bad = sorted(set(self.clip_kinds) - set(CLIP_KINDS))
        if bad:
            raise ValueError(f"unknown clip kinds {bad}; choose from {list(CLIP_KINDS)}")
        if self.frames < 1 or not 0 < self.brightness < 1 or self.shift_px < 0:
            raise ValueError("frames must be >= 1, brightness in (0, 1), shift_px >= 0")


@dataclass
class Face:
    """One labelled face of a photo and what was measured on it."""

    photo: str
    index: int
    centre: tuple[int, int]
    box: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # view -> outputs
    teaching: FaceTeaching | None = None

    @property
    def name(self) -> str:
        return f"{self.photo}#{self.index}"


def _inside(point: tuple[float, float], box: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def _match(point: tuple[float, float], boxes: np.ndarray) -> int | None:
    """Index of the box containing ``point`` whose centre is nearest it (None: no box)."""
    best, best_d = None, np.inf
    for i, box in enumerate(boxes):
        if _inside(point, box):
            d = np.hypot((box[0] + box[2]) / 2 - point[0], (box[1] + box[3]) / 2 - point[1])
            if d < best_d:
                best, best_d = i, d
    return best


def detection_recall(photos: dict[str, np.ndarray], threshold: float) -> dict[str, Any]:
    """Labelled faces found per photo at a detector threshold, and detections on no face."""
    detector = build_detector(DetectorConfig(score_threshold=threshold))
    per_photo = {}
    for name, image in photos.items():
        boxes = detector.detect(image).xyxy
        centres = checkset.FACE_CENTRES[name]
        found = sum(_match(c, boxes) is not None for c in centres)
        extra = sum(not any(_inside(c, b) for c in centres) for b in boxes)
        per_photo[name] = {"faces": len(centres), "found": found, "extra": extra}
    group = [per_photo[n] for n in per_photo if n in checkset.GROUP_PHOTOS]
    return {
        "threshold": threshold,
        "photos": per_photo,
        "group_faces": sum(p["faces"] for p in group),
        "group_found": sum(p["found"] for p in group),
        "extra": sum(p["extra"] for p in per_photo.values()),
    }


class ModelRunner:
    """Fresh pipelines of one model: every run starts with no tracks."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        self.model_dir = Path(model_dir)
        self.threads = threads
        info = read_model_json(self.model_dir)
        self.model_id = str(info.get("model_id", "unknown"))
        self.window = int(info["window"])

    def pipeline(self, max_faces: int) -> AffectPipeline:
        return AffectPipeline(
            PipelineConfig(
                model_dir=self.model_dir,
                intra_op_threads=self.threads,
                max_faces=max_faces,
                detector=DetectorConfig(score_threshold=CHECK_THRESHOLD),
            )
        )

    def last_frame(self, frames: list[np.ndarray], max_faces: int):
        """Faces of the last frame of ``frames`` run through a fresh pipeline."""
        pipeline = self.pipeline(max_faces)
        result = None
        for i, frame in enumerate(frames):
            result = pipeline.process(frame, stamp=i / CLIP_FPS)
        return result

    def clip(self, frames: list[np.ndarray], people: int) -> dict[str, Any]:
        """Track ids, warm face-frames, hesitancy (None for a model without an A/H head) and
        valence over one clip of a photo of ``people`` faces."""
        pipeline = self.pipeline(max_faces=people + 2)
        has_ah = "ah" in pipeline.info.tasks
        ids: set[str] = set()
        warm = hesitant = with_face = 0
        valence: list[float] = []
        for i, frame in enumerate(frames):
            faces = pipeline.process(frame, stamp=i / CLIP_FPS).faces
            with_face += len(faces) > 0
            ids.update(str(t) for t in faces.track_id)
            is_warm = np.asarray(faces.data["window_fill"]) >= pipeline.window_size
            warm += int(is_warm.sum())
            hesitant += int(np.asarray(faces.data["ah"])[is_warm].sum())
            valence += [float(v) for v in np.asarray(faces.data["valence"])[is_warm]]
        return {
            "frames": len(frames),
            "frames_with_face": with_face,
            "faces": people,
            "track_ids": len(ids),
            "warm_face_frames": warm,
            "hesitant": hesitant if has_ah else None,
            "hesitant_share": hesitant / warm if warm and has_ah else None,
            "mean_valence": float(np.mean(valence)) if valence else None,
        }


def _face_outputs(faces, i: int) -> dict[str, Any]:
    data = faces.data
    return {
        "valence": float(data["valence"][i]),
        "arousal": float(data["arousal"][i]),
        "au": {n: float(v) for n, v in zip(AU_NAMES, data["au_prob"][i], strict=True)},
        "emi": {n: float(v) for n, v in zip(EMI_NAMES, data["emi"][i], strict=True)},
        "ah_prob": float(data["ah_prob"][i]),
    }


def _views(
    config: RealcheckConfig, width: int, height: int
) -> dict[str, tuple[ClipSpec, Callable[[tuple[int, int]], tuple[float, float]]]]:
    """View name -> (clip spec of still frames, where a face centre lands in that view)."""
    base = {"frames": 1, "size": (width, height), "face_height": height, "jitter": 0.0}
    s, b = config.shift_px, config.brightness
    return {
        "photo": (ClipSpec(**base), lambda c: c),
        "mirrored": (ClipSpec(kind="mirror", **base), lambda c: (width - 1 - c[0], c[1])),
        "shifted": (ClipSpec(offset=(s, s), **base), lambda c: (c[0] + s, c[1] + s)),
        "brighter": (ClipSpec(gain=1 + b, **base), lambda c: c),
        "darker": (ClipSpec(gain=1 - b, **base), lambda c: c),
    }


def measure_faces(
    config: RealcheckConfig, photos: dict[str, np.ndarray], runner: ModelRunner
) -> list[Face]:
    """The labelled faces with their boxes and the model's outputs in every view."""
    detector = build_detector(DetectorConfig(score_threshold=CHECK_THRESHOLD))
    faces = []
    for name, image in photos.items():
        found = detector.detect(image)
        centres = checkset.FACE_CENTRES[name]
        photo_faces = [Face(name, k, c) for k, c in enumerate(centres)]
        for face in photo_faces:
            hit = _match(face.centre, found.xyxy)
            if hit is not None:
                face.box = found.xyxy[hit]
                face.keypoints = None if found.keypoints is None else found.keypoints[hit]
        height, width = image.shape[:2]
        for view, (spec, moved) in _views(config, width, height).items():
            frame = make_clip(image, spec)[0]
            result = runner.last_frame(
                [frame] * (runner.window + WARM_UP_FRAMES), max_faces=len(centres) + 2
            )
            for face in photo_faces:
                hit = _match(moved(face.centre), result.faces.xyxy)
                if hit is not None and bool(result.warm[hit]):
                    face.outputs[view] = _face_outputs(result.faces, hit)
        faces += photo_faces
    return faces


def invariance(faces: list[Face]) -> dict[str, Any]:
    """Per view: |Δ valence| and the largest |Δ AU probability| against the photo, over faces."""
    report = {}
    for view in ("mirrored", "shifted", "brighter", "darker"):
        dv, dau = [], []
        for face in faces:
            if "photo" in face.outputs and view in face.outputs:
                a, b = face.outputs["photo"], face.outputs[view]
                dv.append(abs(a["valence"] - b["valence"]))
                dau.append(max(abs(a["au"][n] - b["au"][n]) for n in AU_NAMES))
        report[view] = {
            "faces": len(dv),
            "valence_delta_median": float(np.median(dv)) if dv else None,
            "valence_delta_max": float(np.max(dv)) if dv else None,
            "au_delta_median": float(np.median(dau)) if dau else None,
            "au_delta_max": float(np.max(dau)) if dau else None,
            "within_limit": (
                sum(
                    v <= INVARIANCE_LIMIT and u <= INVARIANCE_LIMIT
                    for v, u in zip(dv, dau, strict=True)
                )
                if dv
                else 0
            ),
        }
    return {"limit": INVARIANCE_LIMIT, "views": report}


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < MIN_FACES or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _model_mean(face: Face, getter: Callable[[dict], float]) -> float:
    """The model's output averaged over the views of a face."""
    return float(np.mean([getter(o) for o in face.outputs.values()]))


def teacher_signals(faces: list[Face]) -> dict[str, dict[str, float]]:
    """Face name -> teacher signal -> value (expression signals per teacher and their mean,
    geometry AU proxies against the population neutral)."""
    taught = [f for f in faces if f.teaching is not None]
    if not taught:
        return {}
    mean_probs = {f.name: np.mean(list(f.teaching.expressions.values()), axis=0) for f in taught}
    neutral_faces = [
        f.teaching.features
        for f in taught
        if CLASSES[int(np.argmax(mean_probs[f.name]))] == "neutral"
    ]
    neutral = geometry.mean_features(neutral_faces or [f.teaching.features for f in taught])
    signals = {}
    for face in taught:
        values: dict[str, float] = {}
        for teacher, probs in {
            **face.teaching.expressions,
            "expr_mean": mean_probs[face.name],
        }.items():
            values.update({f"{teacher}:{k}": v for k, v in expression_signals(probs).items()})
            values[f"{teacher}:surprised"] = float(probs[CLASSES.index("surprised")])
        values.update(
            {
                f"facemesh:{au}": v
                for au, v in geometry.au_proxies(face.teaching.features, neutral).items()
            }
        )
        signals[face.name] = values
    return signals


# output -> (model getter, teacher signals compared with, (teacher a, teacher b) ceiling or None)
AGREEMENT: dict[str, tuple[Callable[[dict], float], tuple[str, ...], tuple[str, str] | None]] = {
    "valence": (
        lambda o: o["valence"],
        ("face_api:valence", "human:valence", "expr_mean:valence"),
        ("face_api:valence", "human:valence"),
    ),
    "Joy": (
        lambda o: o["emi"]["Joy"],
        ("face_api:Joy", "human:Joy", "expr_mean:Joy"),
        ("face_api:Joy", "human:Joy"),
    ),
    "Amusement": (
        lambda o: o["emi"]["Amusement"],
        ("face_api:Amusement", "human:Amusement", "expr_mean:Amusement"),
        ("face_api:Amusement", "human:Amusement"),
    ),
    "AU12": (
        lambda o: o["au"]["AU12"],
        ("facemesh:AU12", "expr_mean:Joy"),
        ("facemesh:AU12", "expr_mean:Joy"),
    ),
    **{
        au: ((lambda o, au=au: o["au"][au]), (f"facemesh:{au}",), None)
        for au in GEOMETRY_AUS
        if au != "AU12"
    },
}


def agreement(faces: list[Face]) -> dict[str, Any]:
    """Spearman over faces between each covered output and its teacher signals, the ceiling
    (the two teachers' agreement) beside it; None where fewer than MIN_FACES faces or a
    constant signal."""
    signals = teacher_signals(faces)
    usable = [f for f in faces if f.name in signals and f.outputs]
    report = {}
    for output, (getter, teachers, ceiling) in AGREEMENT.items():
        model = [_model_mean(f, getter) for f in usable]
        report[output] = {
            "faces": len(usable),
            "spearman": {
                t: _spearman(model, [signals[f.name][t] for f in usable]) for t in teachers
            },
            "ceiling": None
            if ceiling is None
            else {
                "between": list(ceiling),
                "spearman": _spearman(
                    [signals[f.name][ceiling[0]] for f in usable],
                    [signals[f.name][ceiling[1]] for f in usable],
                ),
            },
        }
    return report


NOT_COVERED = (
    "arousal",
    "AU6",
    "AU10",
    "AU15",
    "AU23",
    "AU24",
    "Admiration",
    "Determination",
    "Empathic Pain",
    "Excitement",
    "hesitancy",
)


def run_realcheck(
    config: RealcheckConfig,
) -> tuple[dict[str, Any], list[Face], dict[str, np.ndarray]]:
    """Measure a model on the check set; returns the report, the faces and the photos."""
    names = list(dict.fromkeys([*config.photos, *config.clip_photos]))
    photos = {name: checkset.load_photo(name, config.cache) for name in names}
    measured = {n: photos[n] for n in config.photos}
    runner = ModelRunner(config.model_dir, config.threads)
    faces = measure_faces(config, measured, runner)
    clips = {}
    for name in config.clip_photos:
        for kind in config.clip_kinds:
            spec = ClipSpec(kind=kind, frames=config.frames, seed=config.seed)
            clips[f"{name}/{kind}"] = runner.clip(
                make_clip(photos[name], spec), len(checkset.FACE_CENTRES[name])
            )
    report: dict[str, Any] = {
        "model_id": runner.model_id,
        "model_dir": str(config.model_dir),
        "photos": list(config.photos),
        "faces": len(faces),
        "faces_with_outputs": sum("photo" in f.outputs for f in faces),
        "detection": {
            "default_threshold": detection_recall(measured, DetectorConfig().score_threshold),
            "check_threshold": detection_recall(measured, CHECK_THRESHOLD),
        },
        "clips": clips,
        "ids": {
            "clips": len(clips),
            "churn": sum(max(c["track_ids"] - c["faces"], 0) for c in clips.values()),
        },
        "still_face_hesitancy": _still_hesitancy(clips),
        "invariance": invariance(faces),
        "not_covered_by_teachers": list(NOT_COVERED),
    }
    if config.teachers:
        teachers = Teachers(config.cache)
        for face in faces:
            if face.box is not None:
                face.teaching = teachers.teach(
                    photos[face.photo], face.box, roll_degrees(face.keypoints)
                )
        report["agreement"] = agreement(faces)
    report["per_face"] = [_face_record(f) for f in faces]
    return report, faces, photos


def _still_hesitancy(clips: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Hesitant share of warm face-frames over every clip (a still face in all of them); None
    where the model has no A/H head."""
    warm = sum(c["warm_face_frames"] for c in clips.values())
    counts = [c["hesitant"] for c in clips.values()]
    hesitant = None if None in counts else sum(counts)
    return {
        "warm_face_frames": warm,
        "hesitant": hesitant,
        "share": hesitant / warm if warm and hesitant is not None else None,
        "per_clip": {k: c["hesitant_share"] for k, c in clips.items()},
    }


def _face_record(face: Face) -> dict[str, Any]:
    record: dict[str, Any] = {
        "face": face.name,
        "found": face.box is not None,
        "photo_outputs": face.outputs.get("photo"),
    }
    if face.teaching is not None:
        record["teachers"] = {
            t: dict(zip(CLASSES, map(float, p), strict=True))
            for t, p in face.teaching.expressions.items()
        }
        record["landmark_features"] = face.teaching.features
        record["mesh_score"] = face.teaching.mesh_score
    return record
