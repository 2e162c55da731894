"""FrameResult -> AffectStateArray / AffectState, image messages, stamps, REP-155 topic names
(no ROS graph)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from frame_results import WINDOW, make_result
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from affect_perception.labels import AU_NAMES
from affect_perception.msg import AffectStateArray
from affect_perception.ros.conversions import (
    compressed_message,
    face_messages,
    face_token,
    face_topic,
    frame_message,
    image_message,
    seconds_to_stamp,
    stamp_to_seconds,
    tracked_ids_text,
)
from affect_perception.runtime.image_decode import decode_compressed_msg, decode_image_msg


def header(sec: int = 1700000000, nanosec: int = 123456789, frame_id: str = "camera") -> Header:
    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


@pytest.mark.parametrize(
    ("seconds", "sec", "nanosec"),
    [
        (0.0, 0, 0),
        (1.5, 1, 500_000_000),
        (12.000000001, 12, 1),
        (3.9999999999, 4, 0),  # rounds up into the next second
    ],
)
def test_seconds_to_stamp_and_back(seconds: float, sec: int, nanosec: int) -> None:
    stamp = seconds_to_stamp(seconds)
    assert (stamp.sec, stamp.nanosec) == (sec, nanosec)
    assert stamp_to_seconds(stamp) == pytest.approx(seconds, abs=1e-9)


def test_frame_message_copies_the_source_header_exactly() -> None:
    source = header()
    msg = frame_message(make_result([(10, 20, 110, 140), (150, 30, 250, 150)]), source)
    assert msg.header == source
    assert all(face.header == source for face in msg.faces)
    restored = deserialize_message(serialize_message(msg), AffectStateArray)
    assert (restored.header.stamp.sec, restored.header.stamp.nanosec) == (1700000000, 123456789)
    assert restored.header.frame_id == "camera"


def test_face_fields_are_mapped_one_to_one() -> None:
    result = make_result(
        [(10, 20, 110, 140), (150, 30, 250, 150)],
        fill=[3, 8],
        valence=[-0.75, 0.5],
        hesitant=[True, False],
    )
    first, second = face_messages(result, header())
    data = result.faces.data
    assert (first.track_id, second.track_id) == ("f0001", "f0002")
    assert first.valence == pytest.approx(-0.75) and second.valence == pytest.approx(0.5)
    assert first.arousal == pytest.approx(-0.5)
    assert first.detection_score == pytest.approx(0.9)
    np.testing.assert_allclose(first.au_probabilities, data["au_prob"][0])
    assert list(first.au_active) == data["au_active"][0].tolist()
    assert len(first.au_active) == len(AU_NAMES)
    np.testing.assert_allclose(first.emi_intensities, data["emi"][0])
    assert (first.hesitancy, second.hesitancy) == (True, False)
    assert first.hesitancy_probability == pytest.approx(0.8)
    assert (first.window_fill, second.window_fill) == (3, 8)
    assert first.window_size == WINDOW and first.model_id == "test-model"
    # the messages survive serialisation (a numpy bool array in bool[12] used to abort)
    restored = deserialize_message(
        serialize_message(frame_message(result, header())), AffectStateArray
    )
    assert list(restored.faces[0].au_active) == data["au_active"][0].tolist()


@pytest.mark.parametrize(
    ("box", "roi"),
    [
        ((10.2, 20.7, 110.1, 140.0), (10, 20, 101, 120)),  # inside: floor / ceil to whole pixels
        ((-30.0, -10.0, 50.0, 60.0), (0, 0, 50, 60)),  # over the top-left corner: clipped
        (
            (280.0, 200.0, 400.0, 300.0),
            (280, 200, 40, 40),
        ),  # over the bottom-right corner: clipped
        ((330.0, 250.0, 400.0, 300.0), (320, 240, 0, 0)),  # outside: empty at the border
    ],
)
def test_roi_is_the_box_clipped_to_the_image(box: tuple, roi: tuple) -> None:
    (face,) = face_messages(make_result([box], size=(320, 240)), header())
    assert (face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height) == roi


def test_no_face_gives_an_empty_array_with_the_header() -> None:
    msg = frame_message(make_result([]), header(frame_id="head_camera"))
    assert msg.faces == [] and msg.header.frame_id == "head_camera"


def test_absent_tasks_travel_as_nan() -> None:
    result = make_result([(10, 20, 110, 140)])
    result.faces.data["valence"][:] = np.nan
    (face,) = face_messages(result, header())
    assert math.isnan(face.valence)


def test_window_fill_saturates_at_the_uint16_limit() -> None:
    (face,) = face_messages(make_result([(10, 20, 110, 140)], fill=[70000]), header())
    assert face.window_fill == 65535


@pytest.mark.parametrize(
    ("track_id", "token"),
    [
        ("f0003", "f0003"),
        ("face-7", "face_7"),  # '-' is not allowed in a topic token
        ("12", "f12"),  # a token must not start with a digit
        ("", "f"),
    ],
)
def test_face_topics_follow_rep155(track_id: str, token: str) -> None:
    assert face_token(track_id) == token
    assert face_topic(track_id) == f"/humans/faces/{token}/affect"


def test_tracked_ids_are_the_topic_tokens_comma_separated() -> None:
    assert tracked_ids_text(["f0001", "face-2"]) == "f0001,face_2"
    assert tracked_ids_text([]) == ""


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_image_message_round_trip(encoding: str) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (6, 10, 3), dtype=np.uint8)
    if encoding == "mono8":
        rgb[:] = rgb[..., :1]  # grey survives mono8
    msg = image_message(rgb, header(), encoding)
    assert (msg.width, msg.height, msg.encoding, msg.header.frame_id) == (
        10,
        6,
        encoding,
        "camera",
    )
    np.testing.assert_array_equal(decode_image_msg(msg), rgb)


@pytest.mark.parametrize(("fmt", "tolerance"), [("png", 0), ("jpeg", 40)])
def test_compressed_message_round_trip(fmt: str, tolerance: int) -> None:
    rgb = np.full((16, 24, 3), (200, 40, 90), np.uint8)
    msg = compressed_message(rgb, header(), fmt)
    assert fmt in msg.format and msg.header.frame_id == "camera"
    decoded = decode_compressed_msg(msg)
    assert np.abs(decoded.astype(int) - rgb).max() <= tolerance
