"""Camera frames and affect topics in rosbag2 bags, read and written with rosbags (no ROS).

Image topics hold ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``; affect topics hold
``AffectStateArray``, converted to and from the pipeline's `FrameResult` so predictions,
ground truth and recorded node output all reach the evaluator in one form. Every problem with
a bag raises `BagError`, naming the bag and what to do.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError

from affect_perception.detections import Detections
from affect_perception.evaluation.bag_types import affect_typestore
from affect_perception.frame_result import FrameResult, message_extras
from affect_perception.runtime.image_decode import (
    decode_compressed_msg,
    decode_image_msg,
    encode_compressed,
    image_fields,
)

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
AFFECT_TYPE = "affect_perception/msg/AffectStateArray"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)

# Topics make-bag writes and eval reads by default (the node's output is ~/affect).
IMAGE_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
GROUND_TRUTH_TOPIC = "/ground_truth/affect"
PREDICTION_TOPIC = "/affect_perception_node/affect"  # the node's ~/affect under its default name
# model_id of the ground-truth messages.
GROUND_TRUTH_MODEL_ID = "ground-truth"
# Header frame_id of the frames make-bag writes.
CAMERA_FRAME_ID = "camera"

STORAGE_PLUGINS = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# rosbag2 metadata version written (the one current ROS 2 releases read).
BAG_VERSION = 9
NS_PER_S = 1_000_000_000
# What rosbags, its storage back ends and the CDR deserialiser raise for a missing, damaged or
# truncated bag (a fuzzed MCAP gave UnicodeDecodeError, SerdeError, struct errors and more).
READ_ERRORS = (
    ReaderError,
    OSError,
    apsw.Error,
    SerdeError,
    UnicodeDecodeError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
)


class BagError(ValueError):
    """A bag that cannot be read or written, or lacks what the command needs."""


@dataclass(frozen=True)
class BagFrame:
    """One image message of a bag, kept serialized until decoded.

    Attributes:
        index: position on its topic, 0 first.
        stamp_ns: the header stamp in nanoseconds.
        frame_id: the header frame_id.
        msgtype: ``sensor_msgs/msg/Image`` or ``sensor_msgs/msg/CompressedImage``.
        raw: the CDR bytes as stored (what a replay publishes).
    """

    index: int
    stamp_ns: int
    frame_id: str
    msgtype: str
    raw: bytes

    def decode(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB; raises ImageDecodeError for an unsupported image."""
        msg = affect_typestore().deserialize_cdr(self.raw, self.msgtype)
        if self.msgtype == COMPRESSED_TYPE:
            return decode_compressed_msg(msg)
        return decode_image_msg(msg)


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


@contextmanager
def open_bag(path: Path) -> Iterator[Reader]:
    """A rosbags Reader whose failures (missing, corrupt, truncated bag) raise BagError."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag {path} does not exist; make one with `affect-perception make-bag`")
    try:
        with Reader(path) as reader:
            yield reader
    except READ_ERRORS as err:
        reason = " ".join(f"{type(err).__name__}: {err}".split())  # YAML errors span lines
        raise BagError(
            f"bag {path} cannot be read ({reason}); check that it is a complete rosbag2 folder"
        ) from None


def topics(path: Path) -> dict[str, tuple[str, int]]:
    """Every topic of a bag: ``{topic: (message type, message count)}``."""
    with open_bag(path) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def choose_image_topic(path: Path, topic: str | None = None) -> tuple[str, str, int]:
    """The image topic to replay: ``topic`` if given, else the bag's only image topic.

    Returns:
        (topic, message type, message count).
    """
    available = topics(path)
    images = {t: v for t, v in available.items() if v[0] in IMAGE_TYPES}
    if topic is not None:
        if topic not in images:
            raise BagError(
                f"bag {path} has no image topic {topic!r}; its image topics are "
                f"{sorted(images) or 'none'}"
            )
        return (topic, *images[topic])
    if len(images) != 1:
        if not images:
            raise BagError(
                f"bag {path} has no sensor_msgs/Image or CompressedImage topic "
                f"(topics: {sorted(available) or 'none'})"
            )
        raise BagError(
            f"bag {path} has several image topics {sorted(images)}; pick one with --topic"
        )
    ((name, (msgtype, count)),) = images.items()
    return name, msgtype, count


def read_frames(path: Path, topic: str) -> Iterator[BagFrame]:
    """The image messages of ``topic`` in recording order, still serialized."""
    store = affect_typestore()
    with open_bag(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        for index, (conn, _, raw) in enumerate(reader.messages(connections=connections)):
            header = store.deserialize_cdr(raw, conn.msgtype).header
            yield BagFrame(
                index=index,
                stamp_ns=stamp_ns(header.stamp),
                frame_id=header.frame_id,
                msgtype=conn.msgtype,
                raw=bytes(raw),
            )


def read_affect(path: Path, topic: str) -> dict[int, FrameResult]:
    """The ``AffectStateArray`` messages of ``topic`` keyed by header stamp (ns)."""
    store = affect_typestore()
    out: dict[int, FrameResult] = {}
    with open_bag(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        if not connections:
            raise BagError(f"bag {path} has no topic {topic!r}")
        if connections[0].msgtype != AFFECT_TYPE:
            raise BagError(
                f"topic {topic!r} of bag {path} holds {connections[0].msgtype}, not {AFFECT_TYPE}"
            )
        for _, _, raw in reader.messages(connections=connections):
            msg = store.deserialize_cdr(raw, AFFECT_TYPE)
            out[stamp_ns(msg.header.stamp)] = msg_to_result(msg)
    return out


def deserialize_affect(raw: bytes) -> Any:
    """CDR bytes of an ``AffectStateArray`` (e.g. received from the node) as a message."""
    return affect_typestore().deserialize_cdr(raw, AFFECT_TYPE)


def msg_to_result(msg: Any, image_size: tuple[int, int] = (0, 0)) -> FrameResult:
    """An ``AffectStateArray`` as a FrameResult (image size unknown to the message: 0, 0)."""
    faces = msg.faces
    boxes = [
        (
            f.roi.x_offset,
            f.roi.y_offset,
            f.roi.x_offset + f.roi.width,
            f.roi.y_offset + f.roi.height,
        )
        for f in faces
    ]

    def column(name: str, dtype: type, width: int = 0) -> np.ndarray:
        shape = (len(faces), width) if width else (len(faces),)
        return np.array([getattr(f, name) for f in faces], dtype=dtype).reshape(shape)

    data = {
        "valence": column("valence", np.float32),
        "arousal": column("arousal", np.float32),
        "au_prob": column("au_probabilities", np.float32, 12),
        "au_active": column("au_active", bool, 12),
        "emi": column("emi_intensities", np.float32, 6),
        "ah_prob": column("hesitancy_probability", np.float32),
        "ah": column("hesitancy", bool),
        "window_fill": column("window_fill", np.int64),
    }
    detections = Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        score=column("detection_score", np.float32),
        track_id=np.array([f.track_id for f in faces], dtype=object),
        data=data,
    )
    return FrameResult(
        stamp=stamp_ns(msg.header.stamp) / NS_PER_S,
        image_size=image_size,
        faces=detections,
        window_size=int(faces[0].window_size) if faces else 0,
        model_id=faces[0].model_id if faces else "",
    )


def result_to_msg(result: FrameResult, stamp: int, frame_id: str) -> Any:
    """A FrameResult as a rosbags ``AffectStateArray`` with the source image's stamp (ns)."""
    types = affect_typestore().types
    header = _header(stamp, frame_id)
    roi_type, state_type = (
        types["sensor_msgs/msg/RegionOfInterest"],
        types["affect_perception/msg/AffectState"],
    )
    faces, data = result.faces, result.faces.data
    limit = np.array(result.image_size if all(result.image_size) else (np.inf, np.inf))
    states = []
    for i in range(len(faces)):
        # the node's convention: outward to whole pixels, clipped to the image
        x1, y1 = np.clip(np.floor(faces.xyxy[i, :2]), 0, limit).astype(np.int64)
        x2, y2 = np.clip(np.ceil(faces.xyxy[i, 2:]), 0, limit).astype(np.int64)
        roi = roi_type(
            x_offset=int(x1),
            y_offset=int(y1),
            width=int(max(x2 - x1, 0)),
            height=int(max(y2 - y1, 0)),
            do_rectify=False,
        )
        states.append(
            state_type(
                header=header,
                track_id=str(faces.track_id[i]),
                roi=roi,
                detection_score=float(faces.score[i]),
                valence=float(data["valence"][i]),
                arousal=float(data["arousal"][i]),
                au_probabilities=np.asarray(data["au_prob"][i], np.float32),
                au_active=np.asarray(data["au_active"][i], bool),
                emi_intensities=np.asarray(data["emi"][i], np.float32),
                hesitancy_probability=float(data["ah_prob"][i]),
                hesitancy=bool(data["ah"][i]),
                window_fill=int(data["window_fill"][i]),
                window_size=int(result.window_size),
                model_id=result.model_id,
                **message_extras(result, i),
            )
        )
    return types[AFFECT_TYPE](header=header, faces=states)


def _header(stamp: int, frame_id: str) -> Any:
    types = affect_typestore().types
    time = types["builtin_interfaces/msg/Time"](sec=stamp // NS_PER_S, nanosec=stamp % NS_PER_S)
    return types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


class BagWriter:
    """Writes image, affect and raw messages to a new rosbag2 bag (one connection per topic).

    Use as a context manager; the bag is complete once the ``with`` block ends.
    """

    def __init__(self, path: Path, storage: str = "mcap") -> None:
        path = Path(path)
        if storage not in STORAGE_PLUGINS:
            raise ValueError(f"storage must be one of {sorted(STORAGE_PLUGINS)}, got {storage!r}")
        if path.exists():
            raise BagError(f"{path} already exists; remove it or choose another output path")
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=STORAGE_PLUGINS[storage])
        self._connections: dict[str, Any] = {}

    def __enter__(self) -> "BagWriter":
        try:
            self._writer.open()
        except WriterError as err:
            raise BagError(f"cannot write bag {self.path}: {err}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def write_raw(self, topic: str, msgtype: str, raw: bytes, stamp: int) -> None:
        """Store CDR bytes as they are, with log time ``stamp`` (ns)."""
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=affect_typestore()
            )
        self._writer.write(self._connections[topic], stamp, raw)

    def write_msg(self, topic: str, msg: Any, stamp: int) -> None:
        """Serialize a rosbags message and store it with log time ``stamp`` (ns)."""
        raw = affect_typestore().serialize_cdr(msg, msg.__msgtype__)
        self.write_raw(topic, msg.__msgtype__, bytes(raw), stamp)

    def write_image(
        self,
        topic: str,
        rgb: np.ndarray,
        stamp: int,
        *,
        compressed: bool = False,
        encoding: str = "rgb8",
        frame_id: str = CAMERA_FRAME_ID,
    ) -> None:
        """Store an RGB frame as an Image (``encoding``) or a JPEG CompressedImage."""
        types = affect_typestore().types
        header = _header(stamp, frame_id)
        if compressed:
            fmt, data = encode_compressed(rgb, "jpeg")
            msg = types[COMPRESSED_TYPE](
                header=header, format=fmt, data=np.frombuffer(data, np.uint8)
            )
        else:
            fields = image_fields(rgb, encoding)
            fields["data"] = np.frombuffer(fields["data"], np.uint8)
            msg = types[IMAGE_TYPE](header=header, **fields)
        self.write_msg(topic, msg, stamp)

    def write_result(
        self, topic: str, result: FrameResult, stamp: int, frame_id: str = CAMERA_FRAME_ID
    ) -> None:
        """Store a FrameResult as an ``AffectStateArray`` stamped like its source image."""
        self.write_msg(topic, result_to_msg(result, stamp, frame_id), stamp)
