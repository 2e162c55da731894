"""`affect-perception bench`: every speed figure in one run, as a table and as JSON.

Figures are ratios of variants timed side by side (see :mod:`.timing`), plus the end-to-end
rate and latency of the node's processing path and its memory. BENCHMARKS.md explains each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from affect_perception.bench.machine import available_cores, machine_info
from affect_perception.cli_errors import InputError, model_folder
from affect_perception.model_files import PRECISIONS
from affect_perception.serving.params_file import read_params_file
from affect_perception.serving.settings import BY_NAME, ParameterError, check_value, default

CPU = "CPUExecutionProvider"

# figure -> (comparison, bound) on the 2-core development machine (issues 10, 17 and 21).
TARGETS: dict[str, tuple[str, float]] = {
    "streaming_speedup_w8": (">=", 6.0),  # the folded patch embedding (issue 21)
    "streaming_speedup_w32": (">=", 10.0),
    "ort_speedup_vs_torch": (">=", 1.0),
    # at 30 fps input, the node's defaults (issues 17 and 21); 30 fps in and every frame
    # answered gives an output rate a little under 30 over the measured span
    "e2e_fps_1face": (">=", 29.5),
    "e2e_p99_ms_1face": ("<=", 25.0),
    "e2e_fps_4faces": (">=", 29.5),
    "e2e_p99_ms_4faces": ("<=", 50.0),
    "e2e_dropped_4faces": ("<=", 0.0),
    "e2e_fps_8faces": (">=", 15.0),  # max_faces raised to 8 for this run only
    "int8_speedup": (">=", 1.5),  # INT8 encoder against FP32, one face (issue 21)
    "int8_va_ccc_vs_fp32": (">=", 0.99),
    "int8_au_agreement": (">=", 0.98),
    "int8_heldout_worst_drop": ("<=", 0.02),
}
# (timed repeats per variant, seconds per end-to-end run, backbone batches) in quick and
# full runs; a quick run leaves out batch 4 of the backbones (torch's slowest part by far on a
# busy machine).
QUICK = (12, 8.0, (1,))
FULL = (40, 20.0, (1, 4))
# Windows of the streaming comparison.
STREAMING_WINDOWS = (8, 32)
# Faces per frame of the end-to-end runs.
E2E_FACES = (1, 4, 8)
# Thread counts of the threads section (model and detector sessions alike).
THREAD_COUNTS = (1, 2)
# Flags that set one node parameter for the end-to-end runs: (flag, parameter, type, more
# argparse keywords).
FLAG_PARAMETERS = (
    ("--precision", "precision", str, {"choices": PRECISIONS}),
    ("--detect-every", "detect_every", int, {}),
    ("--temporal-every", "temporal_every", int, {}),
    ("--detector-variant", "detector.variant", str, {"choices": ("back", "front")}),
)
# INT8 section: (held-out clips, synthetic calibration crops) in quick and full runs.
INT8_QUICK = (16, 32)
INT8_FULL = (48, 48)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``bench`` options."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"fewer repeats ({QUICK[0]}), {QUICK[1]:g} s end-to-end runs and "
        "backbones at batch 1 only",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--providers",
        nargs="+",
        default=[CPU],
        metavar="PROVIDER",
        help="onnxruntime execution providers in order of preference (default: "
        "CPU only; e.g. TensorrtExecutionProvider CUDAExecutionProvider "
        "CPUExecutionProvider)",
    )
    # the node's settings (affect_perception.serving.settings, or a parameter file), so
    # `bench` measures what runs; a flag left out never overrides them
    parser.add_argument(
        "--params-file",
        type=Path,
        default=None,
        help="the node's parameter file (e.g. config/affect.yaml): end-to-end "
        "runs use its settings (default: the node's defaults)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads for onnxruntime and torch (default: the node's "
        f"intra_op_threads, {default('intra_op_threads')}, or the parameter "
        "file's; 0: all cores this process may use)",
    )
    for flag, name, kind, extra in FLAG_PARAMETERS:
        parser.add_argument(
            flag,
            type=kind,
            default=None,
            **extra,
            help=f"end-to-end runs: the node's {name} (default "
            f"{default(name)}, or the parameter file's)",
        )
    parser.add_argument(
        "--skip",
        nargs="+",
        default=[],
        metavar="SECTION",
        choices=("streaming", "runtimes", "flops", "backbones", "e2e", "int8", "threads"),
        help="sections to leave out",
    )
    fuzz = parser.add_argument_group("fuzz", "fuzz the image decoders instead")
    fuzz.add_argument(
        "--fuzz",
        type=int,
        metavar="CASES",
        help="run CASES malformed images through the decoders (memory capped) and report findings",
    )
    fuzz.add_argument("--fuzz-seed", type=int, default=0, help="first case's seed (default 0)")
    soak = parser.add_argument_group("soak", "run the live ROS node for a while instead")
    soak.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="feed affect_perception_node synthetic frames for MINUTES and report "
        "memory growth and latency drift",
    )
    soak.add_argument("--soak-fps", type=float, default=30.0, help="frame rate (default 30)")
    soak.add_argument("--soak-faces", type=int, default=1, help="faces per frame (default 1)")
    soak.add_argument(
        "--soak-coming",
        action="store_true",
        help="two faces that enter and leave the view (instead of --soak-faces)",
    )
    soak.add_argument(
        "--model-dir",
        type=Path,
        help="model folder for the soak (default: the bundled demo model, else a "
        "random-init export)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (or the soak, or the decoder fuzz); print the table; write the JSON.

    Exit 0, missed targets included; 1 when the node does not exit cleanly after a soak, or
    when the fuzz finds a case that breaks the decoders' contract.
    """
    if args.soak is not None:
        return _run_soak(args)
    if args.fuzz is not None:
        return _run_fuzz(args)
    params = node_params(args)
    threads = params["intra_op_threads"] or available_cores()
    providers = tuple(args.providers)
    repeats, seconds, batches = QUICK if args.quick else FULL
    results: dict[str, object] = {
        "options": _options(args),
        "machine": machine_info(),
        "threads": threads,
        "providers": list(providers),
        "quick": args.quick,
        "repeats": repeats,
        "sections": {},
        "figures": {},
    }
    sections, figures = results["sections"], results["figures"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="affect_bench_") as tmp:
        work = Path(tmp)
        model = _model_maker(work)
        steps: dict[str, Callable[[], tuple[dict, dict]]] = {
            "streaming": lambda: _streaming(model, providers, threads, repeats),
            "runtimes": lambda: _runtimes(model(8), providers, threads, repeats),
            "flops": lambda: _flops(model(8), threads, repeats),
            "backbones": lambda: _backbones(work, batches, providers, threads, repeats),
            "e2e": lambda: _end_to_end(model(8), providers, threads, seconds, params),
            "int8": lambda: _int8(work, threads, repeats, INT8_QUICK if args.quick else INT8_FULL),
            "threads": lambda: _threads(model(8).model_dir, providers, seconds, params),
        }
        for name, step in steps.items():
            if name not in args.skip:
                sections[name], section_figures = _timed(name, step)
                figures.update(section_figures)
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = list(os.getloadavg())
    results["targets"] = _check_targets(figures)
    print(format_table(figures, results["targets"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def node_params(args: argparse.Namespace) -> dict[str, Any]:
    """The node parameter values the runs use: the parameter file's, then the flags given;
    ``intra_op_threads`` always (the node's default when neither sets it).

    Raises:
        InputError: the file cannot be read, or a value is not one the node accepts.
    """
    params = read_params_file(args.params_file) if args.params_file else {}
    flags = {
        "intra_op_threads": args.threads,
        **{
            name: getattr(args, flag[2:].replace("-", "_")) for flag, name, _, _ in FLAG_PARAMETERS
        },
    }
    params.update({name: value for name, value in flags.items() if value is not None})
    params.setdefault("intra_op_threads", default("intra_op_threads"))
    unknown = sorted(set(params) - set(BY_NAME))
    try:
        for name, value in params.items():
            if name not in unknown:
                check_value(name, value)
    except ParameterError as err:
        raise InputError(str(err)) from None
    if unknown:
        raise InputError(f"--params-file {args.params_file}: unknown parameter {unknown[0]}")
    return params


def _options(args: argparse.Namespace) -> dict[str, object]:
    """The command's options, JSON-ready."""
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in vars(args).items()
        if key != "command"
    }


def _timed(name: str, step: Callable[[], object]) -> object:
    start = time.perf_counter()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    value = step()
    print(
        f"[bench] {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True
    )
    return value


def _model_maker(work: Path) -> Callable[[int], object]:
    """window -> a random-init `BenchModel` exported under ``work``, each made once."""
    from affect_perception.bench.models import random_model

    made: dict[int, object] = {}

    def model(window: int) -> object:
        if window not in made:
            made[window] = _timed(
                f"export (window {window})",
                lambda: random_model(work / f"model_w{window}", window),
            )
        return made[window]

    return model


def _streaming(
    model: Callable[[int], object], providers: tuple[str, ...], threads: int, repeats: int
) -> tuple[dict, dict]:
    from affect_perception.bench.streaming import streaming_speedup

    section, figures = {}, {}
    for window in STREAMING_WINDOWS:
        section[f"w{window}"] = result = streaming_speedup(
            model(window).model_dir, providers, threads, repeats
        )
        figures[f"streaming_speedup_w{window}"] = result["speedup"]
        figures[f"streaming_speedup_unfolded_w{window}"] = result["speedup_unfolded"]
    return section, figures


def _runtimes(
    model: object, providers: tuple[str, ...], threads: int, repeats: int
) -> tuple[dict, dict]:
    from affect_perception.bench.runtimes import ort_vs_torch

    section = {f"faces_{n}": ort_vs_torch(model, n, providers, threads, repeats) for n in (1, 4)}
    return section, {
        "ort_speedup_vs_torch": section["faces_1"]["speedup"],
        "ort_speedup_vs_torch_4faces": section["faces_4"]["speedup"],
    }


def _flops(model: object, threads: int, repeats: int) -> tuple[dict, dict]:
    from affect_perception.bench.flops import cpu_peak, encoder_limit

    # the limit is the processor's: the encoder runs on the CPU here whatever --providers says
    peak = cpu_peak(threads, repeats)
    section = {
        "peak": peak.as_dict(),
        "encoder": {f"faces_{n}": encoder_limit(model, peak, (CPU,), n, repeats) for n in (1, 4)},
    }
    one = section["encoder"]["faces_1"]
    return section, {
        "encoder_gflops": one["gflops"],
        "encoder_ms": one["ms"],
        "flop_limit_ratio": one["ratio_theoretical"],
        "flop_limit_ratio_gemm": one["ratio_gemm"],
    }


def _backbones(
    work: Path, batches: tuple[int, ...], providers: tuple[str, ...], threads: int, repeats: int
) -> tuple[dict, dict]:
    from affect_perception.bench.backbones import backbone_costs

    section = backbone_costs(work, batches, providers, threads, repeats)
    figures = {
        f"backbone_cost_{peer}_b{batch}": ratio
        for batch, peers in section["cost_vs_ours"]["onnxruntime"].items()
        for peer, ratio in peers.items()
    }
    return section, figures


def _end_to_end(
    model: object, providers: tuple[str, ...], threads: int, seconds: float, params: dict[str, Any]
) -> tuple[dict, dict]:
    from affect_perception.bench.end_to_end import Stream, run_in_child
    from affect_perception.bench.models import add_precision

    add_precision(model, params.get("precision", default("precision")))
    model_dir = model.model_dir

    section, figures = {}, {}
    for faces in E2E_FACES:
        run_params = {**params, "intra_op_threads": threads, "providers": list(providers)}
        # the node serves max_faces faces a frame: a run with more raises it to fit them
        run_params["max_faces"] = max(faces, run_params.get("max_faces", default("max_faces")))
        stream = Stream(faces=faces, seconds=seconds, params=run_params)
        section[f"faces_{faces}"] = result = run_in_child(model_dir, stream)
        suffix = "1face" if faces == 1 else f"{faces}faces"
        figures[f"e2e_fps_{suffix}"] = result["fps_out"]
        figures[f"e2e_p99_ms_{suffix}"] = result["latency_ms"]["p99"]
        figures[f"e2e_dropped_{suffix}"] = result["dropped"]
    figures["peak_rss_mib"] = max(r["peak_rss_mib"] for r in section.values())
    return section, figures


def _threads(
    model_dir: Path, providers: tuple[str, ...], seconds: float, params: dict[str, Any]
) -> tuple[dict, dict]:
    """The node's path with 1 and with 2 onnxruntime threads (model and detector), the runs
    alternating (1, 2, 2, 1), for 1 and 4 faces: whether the second core pays here."""
    from affect_perception.bench.end_to_end import Stream, run_in_child

    runs: dict[str, list[dict]] = {}
    for faces in (1, 4):
        for threads in (*THREAD_COUNTS, *THREAD_COUNTS[::-1]):
            stream = Stream(
                faces=faces,
                seconds=seconds,
                params={
                    **params,
                    "intra_op_threads": threads,
                    "detector.threads": threads,
                    "providers": list(providers),
                },
            )
            runs.setdefault(f"faces_{faces}_threads_{threads}", []).append(
                run_in_child(model_dir, stream)
            )
    section = {
        key: {
            "fps": float(np.median([r["fps_out"] for r in rs])),
            "p99_ms": float(np.median([r["latency_ms"]["p99"] for r in rs])),
            "dropped": int(np.median([r["dropped"] for r in rs])),
            "stage_ms": {
                s: float(np.median([r["stage_ms"][s] for r in rs])) for s in rs[0]["stage_ms"]
            },
        }
        for key, rs in runs.items()
    }
    figures = {f"threads_{k}_{m}": v[m] for k, v in section.items() for m in ("fps", "p99_ms")}
    return section, figures


def _int8(work: Path, threads: int, repeats: int, sizes: tuple[int, int]) -> tuple[dict, dict]:
    """INT8 against FP32 on the bundled (trained) demo model."""
    from affect_perception.bench.precision import int8_vs_fp32
    from affect_perception.resources import bundled_model_dir

    section = int8_vs_fp32(bundled_model_dir(), work, threads, repeats, *sizes)
    return section, {
        "int8_speedup": section["speedup_b1"],
        "int8_speedup_4faces": section["speedup_b4"],
        "int8_va_ccc_vs_fp32": section["va_ccc_vs_fp32"],
        "int8_au_agreement": section["au_agreement"],
        "int8_heldout_worst_drop": section["heldout_worst_drop"],
    }


def _check_targets(figures: dict[str, float]) -> dict[str, dict]:
    checks = {}
    for name, (op, bound) in TARGETS.items():
        if name in figures:
            value = figures[name]
            met = value >= bound if op == ">=" else value <= bound
            checks[name] = {"target": f"{op} {bound:g}", "value": value, "met": met}
    return checks


def format_table(figures: dict[str, float], targets: dict[str, dict]) -> str:
    """The figures as a fixed-width table with each target and whether it is met."""
    rows = [("figure", "value", "target", "met")]
    for name, value in figures.items():
        check = targets.get(name)
        rows.append(
            (
                name,
                f"{value:.3g}" if isinstance(value, float) else str(value),
                check["target"] if check else "",
                ("yes" if check["met"] else "NO") if check else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _run_fuzz(args: argparse.Namespace) -> int:
    """Exit 0 without findings, 1 with (printed with their seeds)."""
    from affect_perception.bench.fuzz import fuzz

    report = fuzz(args.fuzz, args.fuzz_seed).as_dict()
    report.update(machine=machine_info())
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if report["findings"] else 0


def _run_soak(args: argparse.Namespace) -> int:
    from affect_perception.bench.soak import soak

    if args.model_dir is not None:
        model_folder(args.model_dir, "--model-dir")
    with tempfile.TemporaryDirectory(prefix="affect_soak_") as tmp:
        model_dir = args.model_dir or _soak_model(Path(tmp))
        params = {"intra_op_threads": args.threads} if args.threads else {}
        log = args.json.with_suffix(".node.log") if args.json else Path(tmp) / "node.log"
        summary = soak(
            model_dir,
            args.soak,
            log,
            fps=args.soak_fps,
            faces=args.soak_faces,
            params=params,
            progress=_progress,
            coming=args.soak_coming,
        )
    summary.update(options=_options(args), machine=machine_info())
    for key in (
        "rss_mib_first",
        "rss_mib_last",
        "rss_growth",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_drift",
        "output_fps",
        "exit_code",
    ):
        print(
            f"{key:16} {summary[key]:.4g}"
            if isinstance(summary[key], float)
            else f"{key:16} {summary[key]}"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if summary["exit_code"] == 0 else 1


def _soak_model(work: Path) -> Path:
    from affect_perception.resources import bundled_model_dir

    try:
        return bundled_model_dir()
    except FileNotFoundError:
        return _model_maker(work)(8).model_dir


def _progress(second: int) -> None:
    if second % 60 == 0:
        print(f"[soak] {second // 60} min", file=sys.stderr, flush=True)
