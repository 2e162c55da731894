"""The GPU comparison that `bench/gpu.sh` runs: TensorRT (FP16), CUDA and CPU side by side.

For each execution provider in turn: load the model (TensorRT builds its FP16 engines for
batches 1 to 16 once, into ``trt_cache`` next to a random-init model kept in the cache
folder, so later runs load them; ``load_s`` is the build or load time), time
the streaming step (encoder and temporal model, folded) at batch 1, 4 and 16 and print faces/s,
then run the node's processing path end to end (`end_to_end.run_in_child`) for 1 and 4 faces.
A requested provider that this onnxruntime lacks, or that the engine does not end up on, is a
one-line error (exit 1), never a silent CPU run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from affect_perception.bench.timing import interleaved

# Short names on the command line -> onnxruntime provider lists (the fallback chain).
PROVIDERS: dict[str, tuple[str, ...]] = {
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "cpu": ("CPUExecutionProvider",),
}
BATCHES = (1, 4, 16)  # at most EngineConfig.trt_max_batch, the engines' largest batch
E2E_FACES = (1, 4)
DEFAULT_CACHE = Path.home() / ".cache" / "affect_perception" / "gpu_bench"


class ProviderError(RuntimeError):
    """A requested execution provider is missing or was not used."""


def check_providers(names: list[str], available: list[str]) -> None:
    """Raise `ProviderError` naming the first requested provider this build lacks."""
    for name in names:
        wanted = PROVIDERS[name][0]
        if wanted not in available:
            raise ProviderError(
                f"{wanted} is not available in this onnxruntime (available: "
                f"{', '.join(available)}); install onnxruntime-gpu with its "
                "CUDA/cuDNN wheels (and TensorRT 10 for tensorrt), see "
                "bench/gpu.sh --setup"
            )


def batch_rates(model_dir: Path, name: str, threads: int, repeats: int) -> dict[str, object]:
    """Load on provider ``name``, then faces/s of the streaming step at each batch."""
    from affect_perception.bench.streaming import streaming_step
    from affect_perception.runtime.engine import AffectEngine, EngineConfig

    start = time.perf_counter()
    engine = AffectEngine(
        EngineConfig(model_dir=model_dir, providers=PROVIDERS[name], intra_op_threads=threads)
    )
    load_s = time.perf_counter() - start
    if engine.active_provider != PROVIDERS[name][0]:
        raise ProviderError(
            f"{name}: the model runs on {engine.active_provider}, not "
            f"{PROVIDERS[name][0]}; see the onnxruntime log above"
        )
    side = engine.info.input_size
    rng = np.random.default_rng(0)
    result: dict[str, object] = {"provider": engine.active_provider, "load_s": load_s}
    for batch in BATCHES:
        step = streaming_step(engine, rng.integers(0, 256, (batch, side, side, 3), np.uint8))
        median = interleaved({"step": step}, repeats)["step"].median_ms
        result[f"faces_per_s_b{batch}"] = batch / median * 1e3
    return result


def end_to_end(model_dir: Path, name: str, seconds: float, threads: int) -> dict[str, float]:
    """fps and p99 latency of the node's path on provider ``name``, per face count."""
    from affect_perception.bench.end_to_end import Stream, run_in_child

    out = {}
    for faces in E2E_FACES:
        result = run_in_child(
            model_dir,
            Stream(
                faces=faces,
                seconds=seconds,
                params={"intra_op_threads": threads, "providers": list(PROVIDERS[name])},
            ),
        )
        out[f"e2e_fps_{faces}"] = result["fps_out"]
        out[f"e2e_p99_ms_{faces}"] = result["latency_ms"]["p99"]
    return out


def format_table(results: dict[str, dict[str, object]]) -> str:
    """One column per provider, one row per figure."""
    names = list(results)
    rows = [("figure", *names)]
    for key in next(iter(results.values())):
        if key != "provider":
            rows.append((key, *(f"{results[n][key]:.4g}" for n in names)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; 1 with one line on stderr when a provider is missing or unused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--providers",
        nargs="+",
        choices=list(PROVIDERS),
        default=list(PROVIDERS),
        help="columns, in order (default: all)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="seconds per end-to-end run (default %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per batch")
    parser.add_argument("--threads", type=int, default=1, help="CPU intra-op threads")
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="folder kept between runs for the model and its TensorRT engines "
        "(default %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.seconds <= 2.5 or args.repeats < 1:
        parser.error("--seconds must exceed the 2 s warm-up and --repeats be >= 1")
    import onnxruntime as ort

    from affect_perception.bench.models import random_model
    from affect_perception.model_files import MODEL_JSON

    try:
        check_providers(args.providers, ort.get_available_providers())
        model_dir = args.cache / "model_w8"
        if not (model_dir / MODEL_JSON).is_file():
            random_model(model_dir, 8)
        results: dict[str, dict[str, object]] = {}
        for name in args.providers:
            print(f"[gpu] {name} ...", file=sys.stderr, flush=True)
            results[name] = batch_rates(model_dir, name, args.threads, args.repeats)
            results[name].update(end_to_end(model_dir, name, args.seconds, args.threads))
    except (ProviderError, RuntimeError) as err:
        print(f"bench/gpu.sh: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    print(format_table(results))
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "load": os.getloadavg()}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
