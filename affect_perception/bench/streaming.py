"""The node's streaming path against recomputing the whole window every frame.

Streaming (what the runtime does): the encoder runs on the newest crop only, its maps go into
the face's window cache and the temporal model runs over the cached window. Recomputing:
the encoder runs on all W crops of the window, then the temporal model. Both in onnxruntime
through `AffectEngine`, one face, the same crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affect_perception.bench.timing import interleaved, speedup
from affect_perception.runtime.engine import AffectEngine, EngineConfig
from affect_perception.runtime.windows import FeatureWindows

# Seed of the random face crops.
CROP_SEED = 1
TRACK = "face"


def streaming_speedup(model_dir: Path, providers: tuple[str, ...], threads: int,
                      repeats: int) -> dict[str, float]:
    """Per-frame milliseconds of both paths and the streaming speedup, for one face.

    Returns:
        ``window``, ``streaming_ms``, ``recompute_ms`` (medians) and ``speedup`` (median
        per-repeat ratio recompute / streaming).
    """
    engine = AffectEngine(EngineConfig(model_dir=model_dir, providers=providers,
                                       intra_op_threads=threads))
    window, side = engine.info.window, engine.info.input_size
    crops = np.random.default_rng(CROP_SEED).integers(0, 256, (window, side, side, 3), np.uint8)
    cache = FeatureWindows(window, engine.feature_shapes, max_tracks=1, max_gap=0)
    for i in range(window):
        cache.push([TRACK], engine.encode(crops[i:i + 1]))

    def streaming() -> None:
        cache.push([TRACK], engine.encode(crops[-1:]))
        engine.temporal(cache.gather([TRACK]))

    def recompute() -> None:
        maps = engine.encode(crops)
        engine.temporal({name: value[None] for name, value in maps.items()})

    timings = interleaved({"recompute": recompute, "streaming": streaming}, repeats)
    return {"window": window, "streaming_ms": timings["streaming"].median_ms,
            "recompute_ms": timings["recompute"].median_ms,
            "speedup": speedup(timings["recompute"], timings["streaming"])}
