"""A rosbags type store that knows the affect_perception messages, for reading and writing bags."""

from __future__ import annotations

from functools import cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from affect_perception.resources import MESSAGES, msg_dir

TYPE_PREFIX = "affect_perception/msg/"


@cache
def affect_typestore() -> Typestore:
    """ROS 2 kilted types plus AffectState and AffectStateArray, from their .msg text."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    types = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), TYPE_PREFIX + name))
    store.register(types)
    return store
