"""`FrameResult` to `AffectStateArray` / `AffectState` messages, RGB frames to image messages,
and ROS stamps to seconds.

The messages carry the source image's header object unchanged, so stamp and frame_id are
copied exactly. Per-face topics follow ROS4HRI REP-155 (``/humans/faces/<id>/...``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from affect_perception.frame_result import UINT16_MAX, FrameResult, message_extras
from affect_perception.msg import AffectState, AffectStateArray
from affect_perception.runtime.image_decode import encode_compressed, image_fields

# REP-155 namespace of the per-face topics, and the topic listing the tracked ids.
FACES_NS = "/humans/faces"
TRACKED_TOPIC = f"{FACES_NS}/tracked"


def stamp_to_seconds(stamp: Any) -> float:
    """A ``builtin_interfaces/Time`` (or anything with ``sec``/``nanosec``) in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float) -> Any:
    """Seconds as a ``builtin_interfaces/Time`` (nanoseconds rounded)."""
    from builtin_interfaces.msg import Time

    total = round(seconds * 1e9)
    sec, nanosec = divmod(total, 1_000_000_000)
    return Time(sec=int(sec), nanosec=int(nanosec))


def _roi(xyxy: np.ndarray, image_size: tuple[int, int]) -> Any:
    """The box as a ``sensor_msgs/RegionOfInterest``, clipped to the image."""
    from sensor_msgs.msg import RegionOfInterest

    width, height = image_size
    x1, y1 = np.clip(np.floor(xyxy[:2]), 0, [width, height]).astype(int)
    x2, y2 = np.clip(np.ceil(xyxy[2:]), 0, [width, height]).astype(int)
    return RegionOfInterest(
        x_offset=int(x1), y_offset=int(y1), width=int(max(x2 - x1, 0)), height=int(max(y2 - y1, 0))
    )


def face_messages(result: FrameResult, header: Any) -> list[AffectState]:
    """One ``AffectState`` per face of ``result``, each with ``header``."""
    faces, data = result.faces, result.faces.data
    fill = np.minimum(np.asarray(data["window_fill"]), UINT16_MAX)
    window = min(result.window_size, UINT16_MAX)
    return [
        AffectState(
            header=header,
            track_id=str(faces.track_id[i]),
            roi=_roi(faces.xyxy[i], result.image_size),
            detection_score=float(faces.score[i]),
            valence=float(data["valence"][i]),
            arousal=float(data["arousal"][i]),
            au_probabilities=np.asarray(data["au_prob"][i], np.float32),
            au_active=np.asarray(data["au_active"][i], bool).tolist(),  # numpy bools crash rosidl
            emi_intensities=np.asarray(data["emi"][i], np.float32),
            hesitancy_probability=float(data["ah_prob"][i]),
            hesitancy=bool(data["ah"][i]),
            window_fill=int(fill[i]),
            window_size=window,
            model_id=result.model_id,
            **message_extras(result, i),
        )
        for i in range(len(faces))
    ]


def frame_message(result: FrameResult, header: Any) -> AffectStateArray:
    """The ``AffectStateArray`` of one frame (``faces`` empty when no face is seen)."""
    return AffectStateArray(header=header, faces=face_messages(result, header))


def face_token(track_id: str) -> str:
    """The track id reduced to the characters a topic-name token allows."""
    token = re.sub(r"[^A-Za-z0-9_]", "_", track_id)
    return token if token and not token[0].isdigit() else "f" + token


def face_topic(track_id: str) -> str:
    """``/humans/faces/<id>/affect`` for one track."""
    return f"{FACES_NS}/{face_token(track_id)}/affect"


def tracked_ids_text(track_ids: list[str]) -> str:
    """The ids of the faces in view as ``/humans/faces/tracked`` carries them: the topic tokens,
    comma-separated (a ``std_msgs/String``: REP-155's ``hri_msgs/IdsList`` is not available)."""
    return ",".join(face_token(t) for t in track_ids)


def image_message(rgb: np.ndarray, header: Any, encoding: str = "rgb8") -> Any:
    """An (H, W, 3) uint8 RGB frame as a ``sensor_msgs/Image`` in ``encoding``."""
    from sensor_msgs.msg import Image

    return Image(header=header, **image_fields(rgb, encoding))


def compressed_message(rgb: np.ndarray, header: Any, fmt: str = "jpeg") -> Any:
    """An (H, W, 3) uint8 RGB frame as a ``sensor_msgs/CompressedImage`` (``jpeg`` or ``png``)."""
    from sensor_msgs.msg import CompressedImage

    format_, data = encode_compressed(rgb, fmt)
    return CompressedImage(header=header, format=format_, data=data)
