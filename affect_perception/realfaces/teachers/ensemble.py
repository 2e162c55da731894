"""All teachers on one face, each averaged over its six views, and what they stand for.

Expression teachers give 7 class probabilities (common order :data:`CLASSES`); from them come a
valence proxy (happy minus the negative classes) and Joy/Amusement (P(happy): the classes do not
tell the two apart). FaceMesh gives landmark features (`geometry.features`) averaged over the
views; the AU proxies are their changes from a neutral (`geometry.au_proxies`). Nothing here
teaches arousal, AU6/10/15/23/24, Admiration, Determination, Empathic Pain or hesitancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from affect_perception.realfaces import checkset
from affect_perception.realfaces.teachers import geometry
from affect_perception.realfaces.teachers.face_api import CLASSES, MANIFEST, FaceApiExpression
from affect_perception.realfaces.teachers.facemesh import FaceMesh
from affect_perception.realfaces.teachers.human_emotion import HumanEmotion
from affect_perception.realfaces.teachers.views import (
    VIEW_SCALES,
    crop_matrix,
    face_square,
    face_views,
)

# Crop side of each teacher as a multiple of the face box: the expression models take the
# face box, FaceMesh a looser square (Human enlarges its face box about 1.5-1.6 times).
CROP_FACTOR = {"face_api": 1.0, "human": 1.0, "facemesh": 1.5}
NEGATIVE = ("sad", "angry", "fearful", "disgusted")


def to_common(probs: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Probabilities reordered from ``classes`` to :data:`CLASSES`."""
    return np.asarray(probs)[..., [classes.index(c) for c in CLASSES]]


def expression_signals(probs: np.ndarray) -> dict[str, float]:
    """Valence proxy in [-1, 1] and Joy/Amusement in [0, 1] from common-order probabilities."""
    p = dict(zip(CLASSES, np.asarray(probs, np.float64), strict=True))
    happy = float(p["happy"])
    return {
        "valence": happy - float(sum(p[c] for c in NEGATIVE)),
        "Joy": happy,
        "Amusement": happy,
    }


@dataclass
class FaceTeaching:
    """What the teachers say about one face.

    Attributes:
        expressions: teacher name -> (7,) view-averaged probabilities, order CLASSES.
        features: view-averaged landmark features (`geometry.FEATURES`).
        mesh_score: FaceMesh's face-presence score, mean over views.
        landmarks: (468, 2) landmarks of the unmirrored middle view in image pixels.
    """

    expressions: dict[str, np.ndarray]
    features: dict[str, float]
    mesh_score: float
    landmarks: np.ndarray


def roll_degrees(keypoints: np.ndarray | None) -> float:
    """Roll of a face from its detector keypoints (right eye, left eye first): the angle that
    levels the eyes; 0 without keypoints."""
    if keypoints is None or not np.all(np.isfinite(keypoints[:2])):
        return 0.0
    (rx, ry), (lx, ly) = keypoints[0], keypoints[1]
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


class Teachers:
    """The three teachers loaded from the check set (see `checkset`)."""

    def __init__(self, cache: Path | None = None) -> None:
        root = checkset.checkset_dir(cache)
        face_api = root / checkset.FACE_API.folder / "model"
        human = root / checkset.HUMAN.folder / "models"
        missing = [
            p
            for p in (face_api / MANIFEST, human / "emotion.json", human / "facemesh.json")
            if not p.is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"teacher models missing ({missing[0]}): run `python -m "
                "affect_perception.realfaces.checkset fetch`"
            )
        self.face_api = FaceApiExpression(face_api)
        self.human = HumanEmotion(human / "emotion.json")
        self.mesh = FaceMesh(human / "facemesh.json")

    def teach(self, image: np.ndarray, box: np.ndarray, roll: float = 0.0) -> FaceTeaching:
        """Run every teacher on the face in ``box`` (x1, y1, x2, y2) of an RGB image; FaceMesh
        sees it turned upright by ``roll`` degrees (`roll_degrees`), as MediaPipe feeds it."""
        expressions = {
            "face_api": self.face_api.probabilities(
                face_views(image, box, CROP_FACTOR["face_api"], self.face_api.input_size)
            ),
            "human": to_common(
                self.human.probabilities(
                    face_views(image, box, CROP_FACTOR["human"], self.human.input_size)
                ),
                self.human.classes,
            ),
        }
        size = self.mesh.input_size
        landmarks, scores = self.mesh.run(
            face_views(image, box, CROP_FACTOR["facemesh"], size, roll)
        )
        centre, side = face_square(box, CROP_FACTOR["facemesh"])
        middle = VIEW_SCALES.index(1.0)  # the unmirrored view at scale 1
        back = cv2.invertAffineTransform(crop_matrix(centre, side, size, roll))
        in_image = landmarks[middle, :, :2] @ back[:, :2].T + back[:, 2]
        return FaceTeaching(
            expressions={k: v.mean(axis=0) for k, v in expressions.items()},
            features=geometry.mean_features([geometry.features(lm) for lm in landmarks]),
            mesh_score=float(scores.mean()),
            landmarks=in_image,
        )
