"""`AffectPipeline`: one RGB frame in, the affect of every tracked face out.

Stages, each timed: detect (every ``detect_every`` frames; the tracker carries the boxes in
between) → track → align → encode (all faces in one batch) → window → temporal (all faces in one
batch, every ``temporal_every`` frames) → outputs (optional smoothing, then the quality figures
and the `reliable` decision, then the optional per-person neutral baseline). The node and the
evaluator both call ``process``; nothing here imports rclpy or torch.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from affect_perception.detections import Detections
from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.runtime.alignment import align_faces
from affect_perception.runtime.baseline import BaselineConfig, BaselineTracker
from affect_perception.runtime.detection.base import DetectorConfig, build_detector
from affect_perception.runtime.engine import DEFAULT_PROVIDERS, AffectEngine, EngineConfig
from affect_perception.runtime.quality import QualityConfig, face_quality, is_reliable
from affect_perception.runtime.smoothing import EmaSmoother, OneEuroConfig, OutputSmoother
from affect_perception.runtime.track_state import TrackBook
from affect_perception.runtime.tracker import FaceTracker, TrackerConfig

# Window slots per processed face: room for tracks that are briefly missed but still alive.
TRACK_SLOTS_PER_FACE = 2
# PipelineConfig fields `AffectPipeline.reconfigure` may change while frames flow.
DYNAMIC_FIELDS = frozenset(
    {"detector", "au_threshold", "ah_threshold", "ema_alpha", "one_euro", "quality", "baseline"}
)
# Latencies kept for the p50/p95 figures (a sliding window of recent frames).
LATENCY_HISTORY = 300


@dataclass
class PipelineConfig:
    """Everything the pipeline needs; the node fills it from ROS parameters.

    Attributes:
        model_dir: folder with encoder.onnx, temporal.onnx, model.json.
        detector: face detector settings (backend, thresholds, downscale); its max_faces is
            set from this config's.
        tracker: tracker settings (confirmation hits, misses before drop, gating).
        providers: onnxruntime execution providers, in order of preference.
        precision: model files to run, ``fp32``, ``fp16`` or ``int8`` (see `EngineConfig`).
        intra_op_threads: onnxruntime threads per session (0: onnxruntime's default).
        max_faces: most faces processed per frame (the largest); bounds memory and time.
        detect_every: run the detector every k frames; the tracker predicts in between.
        temporal_every: run the temporal model every k frames; other frames reuse the last
            output of each face (new faces are always computed).
        max_gap: missed frames a face's window bridges by repeating its last features.
        au_threshold: probability above which an AU counts as active (one value or 12).
        ah_threshold: probability above which a face counts as hesitant.
        ema_alpha: weight of the newest output in an EMA over each face's outputs (None: off).
        one_euro: stamp-aware One-Euro smoothing of valence/arousal, AUs and EMI (None: off,
            the default, so evaluation scores the model's own outputs); not with ema_alpha.
        quality: thresholds of each face's ``reliable`` decision.
        baseline: the per-person neutral baseline (off by default: corrected values equal
            the raw ones).
    """

    model_dir: Path
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    precision: str = "fp32"
    intra_op_threads: int = 0
    max_faces: int = 4
    detect_every: int = 1
    temporal_every: int = 1
    max_gap: int = 5
    au_threshold: float | tuple[float, ...] = 0.5
    ah_threshold: float = 0.5
    ema_alpha: float | None = None
    one_euro: OneEuroConfig | None = None
    quality: QualityConfig = field(default_factory=QualityConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def __post_init__(self) -> None:
        for name in ("max_faces", "detect_every", "temporal_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {self.max_gap}")
        thresholds = np.broadcast_to(np.asarray(self.au_threshold, np.float32), len(AU_NAMES))
        if not (np.all((thresholds > 0) & (thresholds < 1)) and 0 < self.ah_threshold < 1):
            raise ValueError("au_threshold and ah_threshold must lie strictly between 0 and 1")
        if self.ema_alpha is not None and not 0 < self.ema_alpha <= 1:
            raise ValueError(f"ema_alpha must be in (0, 1] or None, got {self.ema_alpha}")
        if self.ema_alpha is not None and self.one_euro is not None:
            raise ValueError(
                "ema_alpha and one_euro are both set; choose one smoothing (set "
                "ema_alpha to None or one_euro to None)"
            )
        # the detector keeps only the faces the pipeline will process
        self.detector = replace(self.detector, max_faces=self.max_faces)


@dataclass
class PipelineCounters:
    """Running totals since start."""

    frames: int = 0
    faces: int = 0
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))

    def latency_percentiles(self) -> tuple[float, float]:
        """p50 and p95 of recent per-frame latencies in ms (NaN before the first frame)."""
        if not self.latency_ms:
            return float("nan"), float("nan")
        p50, p95 = np.percentile(np.asarray(self.latency_ms), [50, 95])
        return float(p50), float(p95)


class StageTimer:
    """Collects milliseconds per named stage for one frame."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - start) * 1e3


class AffectPipeline:
    """Detect, track, encode and estimate the affect of every face in a stream of frames."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.engine = AffectEngine(
            EngineConfig(
                model_dir=Path(config.model_dir),
                providers=tuple(config.providers),
                intra_op_threads=config.intra_op_threads,
                precision=config.precision,
            )
        )
        self.info = self.engine.info
        self.detector = build_detector(config.detector)
        self.tracks = TrackBook(
            FaceTracker(config.tracker),
            self.engine.windows(
                max_tracks=config.max_faces * TRACK_SLOTS_PER_FACE, max_gap=config.max_gap
            ),
            BaselineTracker(config.baseline),
            self._smoother(config),
        )
        self.tracker, self.windows, self.baseline = (
            self.tracks.tracker,
            self.tracks.windows,
            self.tracks.baseline,
        )
        self.counters = PipelineCounters()
        self._au_threshold = self._au_thresholds(config)

    @property
    def smoother(self) -> OutputSmoother | None:
        """The output smoother (None: off)."""
        return self.tracks.smoother

    @staticmethod
    def _smoother(config: PipelineConfig) -> OutputSmoother | None:
        if config.ema_alpha:
            return EmaSmoother(config.ema_alpha)
        return config.one_euro.smoother() if config.one_euro is not None else None

    @staticmethod
    def _au_thresholds(config: PipelineConfig) -> np.ndarray:
        return np.broadcast_to(np.asarray(config.au_threshold, np.float32), len(AU_NAMES)).copy()

    def reconfigure(self, config: PipelineConfig) -> None:
        """Switch to ``config`` while running; only DYNAMIC_FIELDS may differ.

        Raises:
            ValueError: a field outside DYNAMIC_FIELDS differs; nothing was changed.
            DetectorLoadError: a new detector could not load its model; nothing was changed.
        """
        changed = {
            f.name
            for f in fields(config)
            if getattr(config, f.name) != getattr(self.config, f.name)
        }
        if changed - DYNAMIC_FIELDS:
            raise ValueError(f"{sorted(changed - DYNAMIC_FIELDS)} cannot change while running")
        if "detector" in changed:
            self.detector = build_detector(config.detector)
        if changed & {"ema_alpha", "one_euro"}:
            self.tracks.smoother = self._smoother(config)
        if "baseline" in changed:
            self.baseline.config = config.baseline
            if not config.baseline.enabled:
                self.baseline.restart()
        self._au_threshold = self._au_thresholds(config)
        self.config = config

    @property
    def window_size(self) -> int:
        """Frames a face's window needs to be warm."""
        return self.info.window

    def reset(self) -> None:
        """Forget every track (e.g. after a jump in the input stream)."""
        self.tracks.reset()

    def reset_baseline(self, track_ids: list[str] | None = None) -> None:
        """Start the neutral baselines of these tracks again (None: every track's)."""
        self.baseline.restart(track_ids)

    def process(self, rgb: np.ndarray, stamp: float) -> FrameResult:
        """Estimate the affect of every tracked face in one (H, W, 3) uint8 RGB frame."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        start = time.perf_counter()
        timer = StageTimer()
        frame_index = self.counters.frames
        with timer("detect"):
            detect = frame_index % self.config.detect_every == 0
            faces = self.tracks.follow(self.detector.detect(rgb) if detect else None)
        faces = self._largest(faces, self.config.max_faces)
        ids = [str(t) for t in faces.track_id]
        with timer("align"):
            crops = align_faces(rgb, faces, size=self.info.input_size)
        with timer("encode"):
            features = self.engine.encode(crops)
        with timer("window"):
            self.tracks.push(ids, features)
        with timer("temporal"):
            outputs = self._temporal(ids, frame_index)
        with timer("outputs"):
            if self.smoother is not None:
                outputs = self.smoother(ids, outputs, stamp)
            faces.data.update(self._face_fields(outputs, ids))
        with timer("quality"):
            faces.data.update(self._quality_fields(faces, crops, ids, stamp))
        self.counters.frames += 1
        self.counters.faces += len(faces)
        timer.ms["total"] = (time.perf_counter() - start) * 1e3
        self.counters.latency_ms.append(timer.ms["total"])
        return FrameResult(
            stamp=stamp,
            image_size=(rgb.shape[1], rgb.shape[0]),
            faces=faces,
            window_size=self.info.window,
            model_id=self.info.model_id,
            timings_ms=timer.ms,
        )

    @staticmethod
    def _largest(faces: Detections, max_faces: int) -> Detections:
        if len(faces) <= max_faces:
            return faces
        return faces[np.argsort(-faces.area, kind="stable")[:max_faces]]

    def _temporal(self, ids: list[str], frame_index: int) -> dict[str, np.ndarray]:
        """Task outputs per face; between temporal frames, known faces reuse their last ones."""
        if not ids:
            return self.engine.empty_outputs()
        if frame_index % self.config.temporal_every == 0:
            todo = ids
        else:
            todo = [t for t in ids if t not in self.tracks.last_outputs]
        if todo:
            self.tracks.last_outputs.store(todo, self.engine.temporal(self.windows.gather(todo)))
        return self.tracks.last_outputs.stack(ids, self.engine.outputs)

    def _face_fields(self, outputs: dict[str, np.ndarray], ids: list[str]) -> dict:
        """Map model outputs to FrameResult's per-face fields (NaN for absent tasks)."""
        n = len(ids)
        va = outputs.get("va", np.full((n, 2), np.nan, np.float32))
        au = outputs.get("au", np.full((n, len(AU_NAMES)), np.nan, np.float32))
        emi = outputs.get("emi", np.full((n, len(EMI_NAMES)), np.nan, np.float32))
        ah = outputs.get("ah", np.full((n, 1), np.nan, np.float32)).reshape(n)
        return {
            "valence": va[:, 0].astype(np.float32),
            "arousal": va[:, 1].astype(np.float32),
            "au_prob": au.astype(np.float32),
            "au_active": au >= self._au_threshold,
            "emi": emi.astype(np.float32),
            "ah_prob": ah.astype(np.float32),
            "ah": ah >= self.config.ah_threshold,
            "window_fill": self.windows.fill(ids).astype(np.int64).reshape(n),
        }

    def _quality_fields(
        self, faces: Detections, crops: np.ndarray, ids: list[str], stamp: float
    ) -> dict[str, np.ndarray]:
        """Quality figures, the ``reliable`` decision and the baseline-corrected outputs
        (equal to the raw ones while the baseline is off)."""
        data = faces.data
        quality = face_quality(faces, crops, self.windows.real_fill(ids))
        warm = np.asarray(data["window_fill"]) >= self.info.window
        reliable = is_reliable(quality, warm, self.info.window, self.config.quality)
        pose = quality.pop("pose")
        if self.config.baseline.enabled:
            corrected = self.baseline.update(ids, stamp, data, reliable, pose)
        else:
            corrected = {
                "valence_corrected": data["valence"].copy(),
                "arousal_corrected": data["arousal"].copy(),
                "au_prob_corrected": data["au_prob"].copy(),
                "baseline_frames": np.zeros(len(ids), np.int64),
            }
        return {**quality, "reliable": reliable, **corrected}
