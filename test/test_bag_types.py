"""rosbags knows AffectStateArray: write and read MCAP and sqlite3 bags that rclpy decodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from affect_perception.evaluation.bag_types import affect_typestore
from affect_perception.msg import AffectStateArray

TOPIC = "/affect_perception/affect"
MSGTYPE = "affect_perception/msg/AffectStateArray"


def rosbags_array(store, stamp_ns: int, valence: float):
    """An AffectStateArray built with rosbags' own classes."""
    ns = store.types
    Time = ns["builtin_interfaces/msg/Time"]
    Header = ns["std_msgs/msg/Header"]
    Roi = ns["sensor_msgs/msg/RegionOfInterest"]
    State = ns["affect_perception/msg/AffectState"]
    Array = ns[MSGTYPE]
    header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id="cam")
    state = State(
        header=header,
        track_id="f0001",
        roi=Roi(x_offset=1, y_offset=2, height=3, width=4, do_rectify=False),
        detection_score=0.5,
        valence=valence,
        arousal=-0.25,
        au_probabilities=np.linspace(0, 1, 12, dtype=np.float32),
        au_active=np.arange(12) % 2 == 0,
        emi_intensities=np.full(6, 0.5, np.float32),
        hesitancy_probability=0.125,
        hesitancy=False,
        window_fill=8,
        window_size=8,
        model_id="test",
        face_size=120.0,
        frontalness=0.9,
        sharpness=80.0,
        window_real_frames=8,
        reliable=True,
        valence_corrected=valence,
        arousal_corrected=-0.25,
        au_probabilities_corrected=np.zeros(12, np.float32),
        baseline_frames=0,
    )
    return Array(header=header, faces=[state])


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_bag_round_trip(tmp_path: Path, storage: StoragePlugin) -> None:
    store = affect_typestore()
    bag = tmp_path / "bag"
    with Writer(bag, version=9, storage_plugin=storage) as writer:
        conn = writer.add_connection(TOPIC, MSGTYPE, typestore=store)
        for i in range(5):
            msg = rosbags_array(store, 10**9 + i * 33_000_000, valence=i / 10)
            writer.write(conn, 10**9 + i * 33_000_000, store.serialize_cdr(msg, MSGTYPE))
    with Reader(bag) as reader:
        rows = [(conn.msgtype, stamp, raw) for conn, stamp, raw in reader.messages()]
    assert [r[0] for r in rows] == [MSGTYPE] * 5
    for i, (_, stamp, raw) in enumerate(rows):
        assert stamp == 10**9 + i * 33_000_000
        decoded = store.deserialize_cdr(raw, MSGTYPE)
        assert decoded.faces[0].valence == pytest.approx(i / 10)
        # the CDR rosbags wrote is what rclpy's generated type reads
        msg = deserialize_message(bytes(raw), AffectStateArray)
        assert msg.faces[0].track_id == "f0001"
        assert msg.faces[0].au_active[0] and not msg.faces[0].au_active[1]
        assert msg.header.stamp.nanosec == (i * 33_000_000) % 10**9
