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

import numpy as np

from affect_perception.realfaces import checkset
from affect_perception.realfaces.teachers import geometry
from affect_perception.realfaces.teachers.face_api import CLASSES, MANIFEST, FaceApiExpression
from affect_perception.realfaces.teachers.facemesh import FaceMesh
from affect_perception.realfaces.teachers.human_emotion import HumanEmotion
from affect_perception.realfaces.teachers.views import face_views

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
    return {"valence": happy - float(sum(p[c] for c in NEGATIVE)), "Joy": happy,
            "Amusement": happy}


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


class Teachers:
    """The three teachers loaded from the check set (see `checkset`)."""

    def __init__(self, cache: Path | None = None) -> None:
        root = checkset.checkset_dir(cache)
        face_api = root / checkset.FACE_API.folder / "model"
        human = root / checkset.HUMAN.folder / "models"
        missing = [p for p in (face_api / MANIFEST, human / "emotion.json",
                               human / "facemesh.json") if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"teacher models missing ({missing[0]}): run `python -m "
                                    "affect_perception.realfaces.checkset fetch`")
        self.face_api = FaceApiExpression(face_api)
        self.human = HumanEmotion(human / "emotion.json")
        self.mesh = FaceMesh(human / "facemesh.json")

    def teach(self, image: np.ndarray, box: np.ndarray) -> FaceTeaching:
        """Run every teacher on the face in ``box`` (x1, y1, x2, y2) of an RGB image."""
        expressions = {
            "face_api": self.face_api.probabilities(
                face_views(image, box, CROP_FACTOR["face_api"], self.face_api.input_size)),
            "human": to_common(self.human.probabilities(
                face_views(image, box, CROP_FACTOR["human"], self.human.input_size)),
                self.human.classes),
        }
        size = self.mesh.input_size
        landmarks, scores = self.mesh.run(face_views(image, box, CROP_FACTOR["facemesh"], size))
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1) * CROP_FACTOR["facemesh"]
        middle = landmarks[1, :, :2] / size - 0.5  # view 1: scale 1.0, unmirrored
        in_image = middle * side + ((x1 + x2) / 2, (y1 + y2) / 2)
        return FaceTeaching(
            expressions={k: v.mean(axis=0) for k, v in expressions.items()},
            features=geometry.mean_features([geometry.features(lm) for lm in landmarks]),
            mesh_score=float(scores.mean()), landmarks=in_image)
