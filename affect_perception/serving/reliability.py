"""The reliability of the image subscription: the ``image_reliability`` parameter's choice.

``best_available`` takes reliable delivery when every publisher of the topic offers it (large
raw images between processes arrive completely only then) and best effort otherwise, so it
matches every camera driver; the node re-decides when the publishers change. ROS 2 Iron added
a policy of that name to the middleware; this works on Humble too.
"""

from __future__ import annotations

from collections.abc import Sequence

RELIABILITIES = ("best_available", "best_effort", "reliable")


def wants_reliable(mode: str, publishers_reliable: Sequence[bool]) -> bool:
    """Whether to subscribe reliably, given the mode and each matched publisher's reliability
    (no publisher yet: best effort, which matches whatever comes)."""
    if mode == "best_available":
        return bool(publishers_reliable) and all(publishers_reliable)
    return mode == "reliable"
