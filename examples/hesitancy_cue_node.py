#!/usr/bin/env python3
"""An HRI behaviour built on affect_perception: cue the robot when a person turns hesitant or
their valence drops.

    python examples/hesitancy_cue_node.py --ros-args -r affect:=/affect_perception_node/affect

Subscribes to ``affect`` (``affect_perception/AffectStateArray``) and publishes each cue on
``cue`` as a ``std_msgs/String`` holding JSON, e.g.
``{"track_id": "f0003", "cue": "hesitant", "value": 0.71, "stamp": 12.5}``. The logic lives in
:class:`CueDetector`, which knows nothing of ROS: per track it keeps a hysteresis state for
hesitancy and a valence reference, uses only estimates the node marks ``reliable`` (a warm
window of a big, frontal, sharp, really seen face), needs a condition to hold for a few
reliable frames before cueing, and forgets tracks that left. Valence is read baseline-corrected
(``valence_corrected``): once the node's neutral baseline of the person holds
``neutral_frames`` frames (node parameter ``baseline.enabled``), a drop is measured from the
person at rest (0); before that, or with the baseline off, from a slow moving average of their
own. Copy it into your own behaviour package and change what a cue does.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_msgs.msg import String

from affect_perception.msg import AffectStateArray
from affect_perception.ros.spinning import init, run_until_signal

HESITANT = "hesitant"
VALENCE_DROP = "valence_drop"


def _param(default: float, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class CueConfig:
    """Thresholds of the cues; each field is also a node parameter of the same name.

    Hesitancy has hysteresis: a person turns hesitant at ``hesitancy_on`` and stops below
    ``hesitancy_off``, so a probability hovering around one threshold does not cue again and
    again. The valence baseline is frozen while the valence is low, so a long low does not
    become the new normal.
    """

    hesitancy_on: float = _param(
        0.6, "hesitancy probability at or above which a person turns hesitant"
    )
    hesitancy_off: float = _param(
        0.4, "hesitancy probability below which they stop being hesitant"
    )
    valence_drop: float = _param(0.3, "fall of valence below the person's own baseline that cues")
    valence_recover: float = _param(
        0.15, "fall below the baseline under which the valence cue re-arms"
    )
    baseline_alpha: float = _param(
        0.05,
        "weight of each new reliable valence in the person's "
        "moving-average baseline (used until the node's "
        "neutral baseline is in)",
    )
    neutral_frames: int = _param(
        15,
        "baseline_frames from which the node's neutral baseline "
        "is used: valence_corrected is then compared with 0 (at "
        "least the node's baseline.min_frames)",
    )
    min_frames: int = _param(3, "reliable frames in a row a condition must hold before it cues")
    forget_after_s: float = _param(
        5.0, "seconds (by message stamps) after which a track not seen is forgotten"
    )

    def __post_init__(self) -> None:
        if not 0 <= self.hesitancy_off < self.hesitancy_on <= 1:
            raise ValueError(
                "need 0 <= hesitancy_off < hesitancy_on <= 1, got "
                f"{self.hesitancy_off} and {self.hesitancy_on}"
            )
        if not 0 <= self.valence_recover < self.valence_drop <= 2:
            raise ValueError(
                "need 0 <= valence_recover < valence_drop <= 2, got "
                f"{self.valence_recover} and {self.valence_drop}"
            )
        if (
            not 0 < self.baseline_alpha <= 1
            or self.min_frames < 1
            or self.neutral_frames < 1
            or self.forget_after_s <= 0
        ):
            raise ValueError(
                "need baseline_alpha in (0, 1], min_frames >= 1, "
                "neutral_frames >= 1, forget_after_s > 0"
            )


@dataclass(frozen=True)
class Cue:
    """One cue: who, what, the value that triggered it, and the frame's stamp in seconds."""

    track_id: str
    cue: str
    value: float
    stamp: float

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


@dataclass
class _Track:
    last_seen: float
    hesitant: bool = False
    hesitant_run: int = 0
    baseline: float | None = None
    low: bool = False
    low_run: int = 0


class CueDetector:
    """Turns a stream of per-face affect estimates into hesitancy and valence-drop cues."""

    def __init__(self, config: CueConfig | None = None) -> None:
        self.config = config or CueConfig()
        self.tracks: dict[str, _Track] = {}

    def update(self, stamp: float, faces: Iterable[Any]) -> list[Cue]:
        """Cues for one frame; ``faces`` are AffectState-like (rclpy or rosbags messages)."""
        cues = []
        for face in faces:
            if not face.reliable:
                continue  # cold window, or a small, turned, blurred or half-seen face
            track = self.tracks.setdefault(face.track_id, _Track(last_seen=stamp))
            track.last_seen = stamp
            cues += self._hesitancy(face.track_id, track, float(face.hesitancy_probability), stamp)
            cues += self._valence(face.track_id, track, face, stamp)
        gone = [
            t for t, s in self.tracks.items() if stamp - s.last_seen > self.config.forget_after_s
        ]
        for track_id in gone:
            del self.tracks[track_id]
        return cues

    def _hesitancy(self, track_id: str, track: _Track, p: float, stamp: float) -> list[Cue]:
        cfg = self.config
        if track.hesitant:
            track.hesitant = p >= cfg.hesitancy_off
            return []
        track.hesitant_run = track.hesitant_run + 1 if p >= cfg.hesitancy_on else 0
        if track.hesitant_run < cfg.min_frames:
            return []
        track.hesitant, track.hesitant_run = True, 0
        return [Cue(track_id, HESITANT, p, stamp)]

    def _valence(self, track_id: str, track: _Track, face: Any, stamp: float) -> list[Cue]:
        cfg = self.config
        valence = float(face.valence_corrected)
        own = int(face.baseline_frames) < cfg.neutral_frames  # no neutral baseline yet
        if own and track.baseline is None:
            track.baseline = valence
            return []
        drop = (track.baseline if own else 0.0) - valence
        if track.low:
            track.low = drop >= cfg.valence_recover
            return []
        if own:
            track.baseline += cfg.baseline_alpha * (valence - track.baseline)
        track.low_run = track.low_run + 1 if drop >= cfg.valence_drop else 0
        if track.low_run < cfg.min_frames:
            return []
        track.low, track.low_run = True, 0
        return [Cue(track_id, VALENCE_DROP, valence, stamp)]


class HesitancyCueNode(Node):
    """Runs a :class:`CueDetector` on ``affect`` and publishes its cues on ``cue``."""

    def __init__(self) -> None:
        super().__init__("hesitancy_cue_node")
        values = {
            f.name: self.declare_parameter(
                f.name,
                f.default,
                ParameterDescriptor(description=f.metadata["doc"], read_only=True),
            ).value
            for f in dataclasses.fields(CueConfig)
        }
        self.detector = CueDetector(CueConfig(**values))
        self.publisher = self.create_publisher(String, "cue", 10)
        self.create_subscription(AffectStateArray, "affect", self.on_affect, 10)

    def on_affect(self, msg: AffectStateArray) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        for cue in self.detector.update(stamp, msg.faces):
            self.get_logger().info(f"{cue.track_id}: {cue.cue} ({cue.value:+.2f})")
            self.publisher.publish(String(data=cue.to_json()))


def main(args: list[str] | None = None) -> int:
    """Run the cue node until SIGINT or SIGTERM; 2 when its thresholds contradict."""
    init(args)
    try:
        node = HesitancyCueNode()
    except ValueError as err:
        rclpy.logging.get_logger("hesitancy_cue_node").fatal(f"cannot start: {err}")
        rclpy.try_shutdown()
        return 2
    run_until_signal(node)
    return 0


if __name__ == "__main__":
    sys.exit(main())
