"""The node's streaming path against recomputing the whole window every frame.

Streaming (what the runtime does): the folded encoder runs on the newest crop only, giving
its partial patch embeddings, which go into the face's window cache; the folded temporal model
runs over the cached window. Recomputing: the encoder of the files as exported (the cheaper
one without the fold) runs on all W crops of the window, then their temporal model. Both in
onnxruntime through `AffectEngine`, one face, the same crops. The unfolded streaming path is
timed in the same run, so the fold's own gain shows too. Each sample is the mean of
`STEADY_BLOCK` frames of one path in a row, as the node runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from affect_perception.bench.timing import STEADY_BLOCK, interleaved, speedup
from affect_perception.runtime.engine import AffectEngine, EngineConfig

# Seed of the random face crops.
CROP_SEED = 1
TRACK = "face"


def streaming_step(engine: AffectEngine, crops: np.ndarray) -> Callable[[], None]:
    """One frame of the node's model work for len(crops) faces, a track each: the crops
    encoded into their windows, then the temporal model over the windows."""
    ids = [f"{TRACK}{i}" for i in range(len(crops))]
    cache = engine.windows(max_tracks=len(ids), max_gap=0)

    def step() -> None:
        cache.push(ids, engine.encode(crops))
        engine.temporal(cache.gather(ids))

    return step


def streaming_speedup(
    model_dir: Path, providers: tuple[str, ...], threads: int, repeats: int
) -> dict[str, float]:
    """Per-frame milliseconds of the paths and the streaming speedups, for one face.

    Returns:
        ``window``, ``streaming_ms``, ``streaming_unfolded_ms``, ``recompute_ms`` (medians),
        ``speedup`` (median per-repeat ratio recompute / streaming) and ``speedup_unfolded``
        (recompute / streaming without the fold).
    """
    folded, plain = (
        AffectEngine(
            EngineConfig(
                model_dir=model_dir, providers=providers, intra_op_threads=threads, fold=fold
            )
        )
        for fold in (True, False)
    )
    window, side = plain.info.window, plain.info.input_size
    crops = np.random.default_rng(CROP_SEED).integers(0, 256, (window, side, side, 3), np.uint8)

    def streamer(engine: AffectEngine) -> Callable[[], None]:
        step = streaming_step(engine, crops[-1:])
        for _ in range(window):  # a full window, as a tracked face has
            step()
        return step

    def recompute() -> None:
        maps = plain.encode(crops)
        plain.temporal({name: value[None] for name, value in maps.items()})

    timings = interleaved(
        {
            "recompute": recompute,
            "streaming": streamer(folded),
            "streaming_unfolded": streamer(plain),
        },
        repeats,
        block=STEADY_BLOCK,
    )
    return {
        "window": window,
        "streaming_ms": timings["streaming"].median_ms,
        "streaming_unfolded_ms": timings["streaming_unfolded"].median_ms,
        "recompute_ms": timings["recompute"].median_ms,
        "speedup": speedup(timings["recompute"], timings["streaming"]),
        "speedup_unfolded": speedup(timings["recompute"], timings["streaming_unfolded"]),
    }
