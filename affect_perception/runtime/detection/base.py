"""The face-detector interface, its one configuration dataclass and the backend factory.

Backends share :class:`ResizingDetector`: an optional downscaled copy of the frame goes to
the backend, whose boxes come back in frame pixels, then faces below ``min_face_size`` are
dropped and the ``max_faces`` largest kept, largest first.
"""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from affect_perception.detections import Detections

# backend name -> "module:class" implementing it (imported on use, so Haar needs no
# onnxruntime).
BACKENDS: dict[str, str] = {
    "blazeface": "affect_perception.runtime.detection.blazeface:BlazeFaceDetector",
    "yunet": "affect_perception.runtime.detection.yunet:YuNetDetector",
    "haar": "affect_perception.runtime.detection.haar:HaarDetector",
}


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB frame."""

    def detect(self, rgb: np.ndarray) -> Detections:
        """Faces in an (H, W, 3) uint8 RGB frame, boxes and keypoints in its pixels."""
        ...


@dataclass(frozen=True)
class DetectorConfig:
    """Face-detector settings.

    Attributes:
        backend: one of :data:`BACKENDS`.
        variant: BlazeFace model: ``"back"`` (256×256: far, small and turned faces, the
            default) or ``"front"`` (128×128: faces near the camera, about twice as fast).
        model_path: ONNX/XML model file; required for ``yunet``, otherwise overrides the
            cached BlazeFace file or OpenCV's bundled Haar cascade.
        score_threshold: lowest confidence kept, in (0, 1); higher drops more non-faces and
            more hard faces. Haar has no confidence (its scores are 1) and ignores it.
        nms_iou: overlap above which two boxes are one face.
        weighted_nms: BlazeFace blends overlapping boxes weighted by score (MediaPipe's
            choice, steadier boxes) instead of keeping only the best.
        min_face_size: smallest face kept, as the shorter box side in frame pixels.
        max_faces: keep only the largest this many faces; 0 keeps all.
        downscale: detect on a smaller copy of the frame: a value in (0, 1) is a scale
            factor, a value > 1 the longest side in pixels (never enlarges); 0 or 1: off.
        providers: onnxruntime execution providers, in order of preference.
        threads: onnxruntime intra-op threads (0: onnxruntime's default).
    """

    backend: str = "blazeface"
    variant: str = "back"
    model_path: str | None = None
    score_threshold: float = 0.75
    nms_iou: float = 0.3
    weighted_nms: bool = True
    min_face_size: float = 0.0
    max_faces: int = 0
    downscale: float = 0.0
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    threads: int = 1

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {self.backend!r}")
        if not 0 < self.score_threshold < 1:
            raise ValueError(f"score_threshold must lie in (0, 1), got {self.score_threshold}")
        if not 0 < self.nms_iou <= 1:
            raise ValueError(f"nms_iou must lie in (0, 1], got {self.nms_iou}")
        for name in ("min_face_size", "max_faces", "downscale", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        object.__setattr__(self, "providers", tuple(self.providers))

    def scale_for(self, width: int, height: int) -> float:
        """The factor ``downscale`` gives a width × height frame (1: full size)."""
        if self.downscale in (0, 1):
            return 1.0
        if self.downscale < 1:
            return float(self.downscale)
        return min(1.0, self.downscale / max(width, height))


class ResizingDetector(ABC):
    """Base of the backends: downscaling, mapping back, size filter and face limit."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def detect(self, rgb: np.ndarray) -> Detections:
        """Faces in an (H, W, 3) uint8 RGB frame, largest first.

        Raises:
            ValueError: ``rgb`` is not a non-empty (H, W, 3) uint8 array.
        """
        if not (
            isinstance(rgb, np.ndarray)
            and rgb.dtype == np.uint8
            and rgb.ndim == 3
            and rgb.shape[2] == 3
            and rgb.size
        ):
            shape = getattr(rgb, "shape", None)
            raise ValueError(
                f"detect() needs an (H, W, 3) uint8 RGB frame, got {shape} "
                f"{getattr(rgb, 'dtype', type(rgb).__name__)}"
            )
        height, width = rgb.shape[:2]
        scale = self.config.scale_for(width, height)
        small = rgb
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        faces = self._detect(small, small.shape[1] / width)
        if small is not rgb:
            factor = np.array([width / small.shape[1], height / small.shape[0]], np.float32)
            faces = Detections(
                xyxy=faces.xyxy * np.tile(factor, 2),
                score=faces.score,
                keypoints=faces.keypoints * factor,
            )
        return self._select(faces)

    def _select(self, faces: Detections) -> Detections:
        """Drop faces below ``min_face_size``; keep the ``max_faces`` largest, largest first."""
        faces = faces[faces.wh.min(axis=1) >= self.config.min_face_size]
        faces = faces[np.argsort(-faces.area, kind="stable")]
        return faces[: self.config.max_faces] if self.config.max_faces else faces

    @abstractmethod
    def _detect(self, rgb: np.ndarray, scale: float) -> Detections:
        """Faces in ``rgb`` in its own pixels; ``scale`` is its size relative to the frame."""


class DetectorLoadError(ValueError):
    """The detector's model could not be loaded; ``parameter`` names the setting at fault
    (``detector.model_path`` when a file was named, else ``detector.backend``)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def build_detector(config: DetectorConfig) -> FaceDetector:
    """The detector a :class:`DetectorConfig` describes (loads its model).

    Raises:
        DetectorLoadError: whatever loading the model raised (onnxruntime raises several
            types of its own, OpenCV ``cv2.error``, a file that is no detector ``ValueError``
            or ``IndexError``...), as one error naming the parameter.
    """
    module, name = BACKENDS[config.backend].split(":")
    backend = getattr(importlib.import_module(module), name)
    try:
        return backend(config)
    except Exception as err:  # noqa: BLE001 - every load failure is one setting's fault
        parameter = "detector.model_path" if config.model_path else "detector.backend"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DetectorLoadError(
            parameter,
            f"the {config.backend} detector cannot load "
            f"{config.model_path or 'its model'}: "
            f"{type(err).__name__}: {reason}",
        ) from None


def create_detector(name: str = "blazeface", **params: Any) -> FaceDetector:
    """A detector by backend name, e.g. ``create_detector("blazeface", variant="front")``.

    Args:
        name: one of :data:`BACKENDS`.
        **params: any other :class:`DetectorConfig` field.

    Raises:
        ValueError: unknown backend or parameter, or a parameter out of range.
    """
    fields = {f.name for f in dataclasses.fields(DetectorConfig)} - {"backend"}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ValueError(f"unknown detector parameter(s) {unknown}; use {sorted(fields)}")
    return build_detector(DetectorConfig(backend=name, **params))
