"""Side-by-side timing: compared variants run in alternating repeats, figures are medians.

The machines this runs on are shared and noisy, so a variant is never timed alone: every repeat
runs each variant once, in an order that alternates between repeats (ABC, CBA, ABC, ...), so a
burst of load hits all of them alike. A speedup is the median over repeats of the per-repeat
ratio, which cancels slow drifts of the machine's speed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Calls in a row per sample where the variants are alternative paths of the node's per-frame
# work (streaming or recomputing, FP32 or INT8): the node runs one of them frame after frame,
# so each is timed in that steady state (a window's worth of frames), not right after the
# other path pushed its data out of the caches.
STEADY_BLOCK = 8


@dataclass(frozen=True)
class Timing:
    """Milliseconds of every timed repeat of one variant, in repeat order."""

    name: str
    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        """Median milliseconds per call."""
        return statistics.median(self.samples_ms)

    @property
    def min_ms(self) -> float:
        """Fastest call in milliseconds."""
        return min(self.samples_ms)


def interleaved(
    variants: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 2, block: int = 1
) -> dict[str, Timing]:
    """Time each variant ``repeats`` times, the variants interleaved in alternating order.

    Args:
        variants: name -> a call doing one unit of work (one frame, one batch).
        repeats: timed samples per variant (at least 1).
        warmup: untimed calls per variant first (caches, allocator, lazy initialisation).
        block: calls in a row per sample, which is their mean: a variant then runs as it
            does on its own, each call after one of its own rather than after another
            variant's (whose data may have pushed its weights out of the caches).

    Returns:
        Name -> its `Timing`, in the order of ``variants``.
    """
    if repeats < 1 or block < 1 or not variants:
        raise ValueError(
            f"need repeats >= 1, block >= 1 and at least one variant, got {repeats}, "
            f"{block} and {list(variants)}"
        )
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            for _ in range(block):
                variants[name]()
            samples[name].append((time.perf_counter() - start) * 1e3 / block)
    return {name: Timing(name, tuple(samples[name])) for name in names}


def speedup(baseline: Timing, variant: Timing) -> float:
    """How many times faster ``variant`` is than ``baseline``: the median per-repeat ratio."""
    if len(baseline.samples_ms) != len(variant.samples_ms):
        raise ValueError("speedup needs timings from the same interleaved run")
    return statistics.median(
        b / max(v, 1e-9) for b, v in zip(baseline.samples_ms, variant.samples_ms, strict=True)
    )
