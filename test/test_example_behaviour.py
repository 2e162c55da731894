"""examples/hesitancy_cue_node.py: the ROS-free CueDetector on scripted faces (reliable
estimates only, baseline-corrected valence), then the same recorded AffectStateArray bag fed to
the class and replayed into the real node over ROS."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from contextlib import nullcontext as does_not_raise
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ros_support import spin_until, start_process, stop_process
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from affect_perception.evaluation.bag_types import affect_typestore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hesitancy_cue_node.py"
MSGTYPE = "affect_perception/msg/AffectStateArray"
WINDOW = 8
FPS = 30


def load_example():
    spec = importlib.util.spec_from_file_location("hesitancy_cue_node", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()
CueConfig, CueDetector = example.CueConfig, example.CueDetector


def face(
    track: str = "f0001",
    p: float = 0.1,
    valence: float = 0.4,
    fill: int = WINDOW,
    reliable: bool | None = None,
    corrected: float | None = None,
    baseline: int = 0,
):
    """An AffectState-like face; reliable when warm unless said, corrected valence equal to the
    raw one unless a baseline is given."""
    return SimpleNamespace(
        track_id=track,
        hesitancy_probability=p,
        valence=valence,
        window_fill=fill,
        window_size=WINDOW,
        reliable=fill >= WINDOW if reliable is None else reliable,
        valence_corrected=valence if corrected is None else corrected,
        baseline_frames=baseline,
    )


def run(frames: list[list]) -> list[tuple[int, str, str]]:
    """(frame index, track, cue) for a list of frames, each a list of faces, at 30 fps."""
    detector = CueDetector()
    return [
        (i, c.track_id, c.cue)
        for i, faces in enumerate(frames)
        for c in detector.update(i / FPS, faces)
    ]


@pytest.mark.parametrize(
    "unreliable",
    [
        {"fill": 3},  # cold window (never reliable)
        {"reliable": False},  # warm, but small, turned, blurred or half seen
    ],
)
def test_estimates_that_are_not_reliable_are_ignored(unreliable: dict) -> None:
    detector = CueDetector()
    for i in range(10):
        assert detector.update(i / FPS, [face(p=0.95, valence=-0.9, **unreliable)]) == []
    assert detector.tracks == {}


def test_unreliable_frames_neither_cue_nor_break_a_run() -> None:
    frames = [[face(p=0.7)], [face(p=0.7)], [face(p=0.95, reliable=False)], [face(p=0.7)]]
    assert run(frames) == [(3, "f0001", "hesitant")]


@pytest.mark.parametrize(
    ("probabilities", "cue_frames"),
    [
        ([0.7] * 3, [2]),  # three frames in a row cue once
        ([0.7] * 20, [2]),  # staying hesitant cues once
        ([0.7, 0.3] * 10, []),  # never three in a row
        ([0.7] * 3 + [0.5, 0.45] * 5 + [0.7] * 3, [2]),  # between the thresholds: still hesitant
        ([0.7] * 3 + [0.3] + [0.7] * 3, [2, 6]),  # below off, then hesitant again
        ([0.59] * 10, []),  # just under on
    ],
)
def test_hesitancy_has_hysteresis_and_debounce(probabilities: list, cue_frames: list) -> None:
    cues = run([[face(p=p)] for p in probabilities])
    assert cues == [(i, "f0001", "hesitant") for i in cue_frames]


@pytest.mark.parametrize(
    ("valences", "cue_frames"),
    [
        ([0.4] * 10 + [0.0] * 10, [12]),  # a fall of 0.4 below the baseline
        ([0.4] * 10 + [0.2] * 10, []),  # 0.2 is within the normal swing
        ([0.4] * 10 + [0.0] * 5 + [0.35] * 3 + [0.0] * 5, [12, 20]),  # recovered, then again
        ([0.4] * 10 + [0.0] * 5 + [0.2] * 3 + [0.0] * 5, [12]),  # not recovered: no second cue
        ([-0.5] * 10 + [-0.9] * 10, [12]),  # relative to the person's own baseline
    ],
)
def test_valence_drop_is_relative_to_the_baseline(valences: list, cue_frames: list) -> None:
    cues = run([[face(valence=v)] for v in valences])
    assert cues == [(i, "f0001", "valence_drop") for i in cue_frames]


@pytest.mark.parametrize(
    ("faces", "cue_frames"),
    [
        # the node's baseline is in: a drop is measured from the person at rest (0), at once
        ([face(valence=0.1, corrected=-0.35, baseline=20)] * 5, [2]),
        # someone whose resting face reads negative: raw -0.5, corrected 0: no cue
        ([face(valence=-0.5, corrected=0.0, baseline=20)] * 10, []),
        # too few neutral frames yet: the example's own moving baseline of valence_corrected
        ([face(valence=0.1, corrected=-0.35, baseline=5)] * 5, []),
        # once it is in, it replaces the moving baseline (0.4 here, which would cue)
        ([face(corrected=0.4, baseline=5)] * 10 + [face(corrected=0.05, baseline=20)] * 5, []),
    ],
)
def test_valence_drop_uses_the_nodes_neutral_baseline_when_it_is_in(
    faces: list, cue_frames: list
) -> None:
    assert run([[f] for f in faces]) == [(i, "f0001", "valence_drop") for i in cue_frames]


def test_tracks_are_independent_and_forgotten_after_leaving() -> None:
    detector = CueDetector(CueConfig(forget_after_s=1.0))
    cues = []
    for i in range(6):
        cues += detector.update(i / FPS, [face("f0001", p=0.9), face("f0002", p=0.1)])
    assert [(c.track_id, c.cue) for c in cues] == [("f0001", "hesitant")]
    detector.update(2.0, [face("f0002")])
    assert set(detector.tracks) == {"f0002"}


@pytest.mark.parametrize(
    ("changes", "expectation"),
    [
        ({}, does_not_raise()),
        (
            {"hesitancy_on": 0.3, "hesitancy_off": 0.4},
            pytest.raises(ValueError, match="hesitancy"),
        ),
        ({"valence_recover": 0.5}, pytest.raises(ValueError, match="valence_recover")),
        ({"min_frames": 0}, pytest.raises(ValueError, match="min_frames")),
        ({"neutral_frames": 0}, pytest.raises(ValueError, match="neutral_frames")),
    ],
)
def test_config_validation(changes: dict, expectation) -> None:
    with expectation:
        CueConfig(**changes)


def test_cue_json() -> None:
    cue = example.Cue("f0003", "hesitant", 0.71, 12.5)
    assert json.loads(cue.to_json()) == {
        "track_id": "f0003",
        "cue": "hesitant",
        "value": 0.71,
        "stamp": 12.5,
    }


# --- a recorded bag: two people, one turns hesitant, the other's valence drops ---------------


def scripted_state(store, index: int, track: str):
    """Face ``track`` in frame ``index``: f0001 hesitant from frame 30 but turned away (not
    reliable) in frames 30 to 33; f0002 rests at a raw valence of 0.5, which its neutral
    baseline (in from the start) corrects to 0, and falls to -0.2 at frame 45; both windows
    fill over the first 8 frames."""
    types = store.types
    time = types["builtin_interfaces/msg/Time"](
        sec=index // FPS, nanosec=(index % FPS) * 10**9 // FPS
    )
    header = types["std_msgs/msg/Header"](stamp=time, frame_id="camera")
    p = 0.8 if track == "f0001" and index >= 30 else 0.2
    valence = -0.2 if track == "f0002" and index >= 45 else 0.5
    baseline = 30 if track == "f0002" else 0
    corrected = valence - 0.5 if baseline else valence
    reliable = index + 1 >= WINDOW and not (track == "f0001" and 30 <= index <= 33)
    roi = types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=50, width=50, do_rectify=False
    )
    return header, types["affect_perception/msg/AffectState"](
        header=header,
        track_id=track,
        roi=roi,
        detection_score=0.9,
        valence=valence,
        arousal=0.0,
        au_probabilities=np.zeros(12, np.float32),
        au_active=np.zeros(12, bool),
        emi_intensities=np.zeros(6, np.float32),
        hesitancy_probability=p,
        hesitancy=p > 0.5,
        window_fill=min(index + 1, WINDOW),
        window_size=WINDOW,
        model_id="scripted",
        face_size=50.0,
        frontalness=0.9,
        sharpness=60.0,
        window_real_frames=min(index + 1, WINDOW),
        reliable=reliable,
        valence_corrected=corrected,
        arousal_corrected=0.0,
        au_probabilities_corrected=np.zeros(12, np.float32),
        baseline_frames=baseline,
    )


@pytest.fixture(scope="module")
def recorded_bag(tmp_path_factory) -> Path:
    store = affect_typestore()
    bag = tmp_path_factory.mktemp("cues") / "bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/affect_perception_node/affect", MSGTYPE, typestore=store)
        for i in range(60):
            faces = [scripted_state(store, i, track) for track in ("f0001", "f0002")]
            msg = store.types[MSGTYPE](header=faces[0][0], faces=[s for _, s in faces])
            writer.write(conn, i * 10**9 // FPS, store.serialize_cdr(msg, MSGTYPE))
    return bag


def bag_messages(bag: Path) -> list[bytes]:
    with Reader(bag) as reader:
        return [bytes(raw) for _, _, raw in reader.messages()]


EXPECTED = [("f0001", "hesitant", 36), ("f0002", "valence_drop", 47)]


def test_bag_through_the_class(recorded_bag: Path) -> None:
    store, detector = affect_typestore(), CueDetector()
    cues = []
    for raw in bag_messages(recorded_bag):
        msg = store.deserialize_cdr(raw, MSGTYPE)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        cues += detector.update(stamp, msg.faces)
    assert [(c.track_id, c.cue, round(c.stamp * FPS)) for c in cues] == EXPECTED


@pytest.mark.ros
def test_bag_replayed_into_the_example_node(
    rclpy_init: None, recorded_bag: Path, tmp_path: Path
) -> None:
    from rclpy.node import Node
    from std_msgs.msg import String

    from affect_perception.msg import AffectStateArray

    log = tmp_path / "cue_node.log"
    proc = start_process([str(EXAMPLE), "--ros-args", "-r", "affect:=/replay/affect"], log)
    node = Node("cue_test_player")
    cues: list[dict] = []
    try:
        publisher = node.create_publisher(AffectStateArray, "/replay/affect", 10)
        subscription = node.create_subscription(
            String, "/cue", lambda m: cues.append(json.loads(m.data)), 10
        )
        assert spin_until(
            node,
            lambda: (
                proc.poll() is not None
                or (
                    publisher.get_subscription_count() > 0
                    and subscription.get_publisher_count() > 0
                )
            ),
            timeout=30,
        ), log.read_text()
        for raw in bag_messages(recorded_bag):
            publisher.publish(raw)  # the bag's CDR bytes, as recorded
            spin_until(node, lambda: False, timeout=1 / FPS)
        assert spin_until(node, lambda: len(cues) >= len(EXPECTED), timeout=10), cues
    finally:
        code = stop_process(proc, signal.SIGTERM)
        node.destroy_node()
    assert code == 0, log.read_text()
    assert [(c["track_id"], c["cue"], round(c["stamp"] * FPS)) for c in cues] == EXPECTED
    assert "f0001: hesitant" in log.read_text()
