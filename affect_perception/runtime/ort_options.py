"""onnxruntime session options shared by the affect model and the face detector."""

from __future__ import annotations

import onnxruntime as ort


def session_options(threads: int) -> ort.SessionOptions:
    """``threads`` intra-op threads (0: one per core), one inter-op thread, and pool threads
    that sleep when idle instead of spinning: the cores are shared with the node's other
    threads (decoding, ROS executor) and the detector's session, which a spinning pool
    would starve."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
