"""A rosbags type store that knows the affect_perception messages, for reading and writing bags."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MESSAGES = ("AffectState", "AffectStateArray")
TYPE_PREFIX = "affect_perception/msg/"


def msg_dir() -> Path:
    """The folder holding the .msg files: this checkout's ``msg/`` or the installed share."""
    candidates = (
        Path(__file__).resolve().parents[2] / "msg",
        Path(sys.prefix) / "share" / "affect_perception" / "msg",
    )
    for folder in candidates:
        if all((folder / f"{name}.msg").is_file() for name in MESSAGES):
            return folder
    raise FileNotFoundError(
        "affect_perception .msg files not found in " + ", ".join(map(str, candidates))
        + ": run the set-up (scripts/setup.sh) or colcon build")


@cache
def affect_typestore() -> Typestore:
    """ROS 2 kilted types plus AffectState and AffectStateArray, from their .msg text."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    types = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(),
                                        TYPE_PREFIX + name))
    store.register(types)
    return store
