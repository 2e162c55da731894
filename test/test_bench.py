"""The benchmark harness: interleaved timing and ratios, FLOP counting and peaks, memory, each
measured section on the random model, the end-to-end stream, the CLI table and JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affect_perception.bench import cli, flops, timing
from affect_perception.bench.end_to_end import Stream, pipeline_for, run_stream
from affect_perception.bench.memory import growth, peak_rss_mib, rss_mib
from affect_perception.bench.models import MODEL_SEED, BenchModel
from affect_perception.bench.runtimes import ort_vs_torch
from affect_perception.bench.streaming import streaming_speedup
from affect_perception.model.affect_model import AffectModel
from affect_perception.model.config import ModelConfig

CPU = ("CPUExecutionProvider",)


class FakeClock:
    """perf_counter stand-in: each variant's call advances it by a fixed time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def variant(self, name: str, seconds: list[float]):
        def call() -> None:
            self.calls.append(name)
            self.now += seconds[len([c for c in self.calls if c == name]) - 1]

        return call


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", lambda: fake.now)
    return fake


def test_interleaved_alternates_the_order_and_skips_warmup(clock: FakeClock) -> None:
    a = clock.variant("a", [1.0, 1.0, 0.010, 0.020, 0.030])
    b = clock.variant("b", [1.0, 1.0, 0.040, 0.040, 0.040])
    result = timing.interleaved({"a": a, "b": b}, repeats=3, warmup=2)
    # warm-up in the given order, then ab, ba, ab
    assert clock.calls == ["a", "b", "a", "b", "a", "b", "b", "a", "a", "b"]
    assert result["a"].samples_ms == pytest.approx((10.0, 20.0, 30.0))
    assert result["a"].median_ms == pytest.approx(20.0) and result["a"].min_ms == pytest.approx(10)
    assert timing.speedup(result["b"], result["a"]) == pytest.approx(2.0)  # 4, 2, 4/3


def test_interleaved_blocks_time_calls_in_a_row(clock: FakeClock) -> None:
    a = clock.variant("a", [1.0, 0.010, 0.030, 0.020, 0.020])
    b = clock.variant("b", [1.0, 0.040, 0.040, 0.040, 0.040])
    result = timing.interleaved({"a": a, "b": b}, repeats=2, warmup=1, block=2)
    assert clock.calls == ["a", "b", "a", "a", "b", "b", "b", "b", "a", "a"]
    assert result["a"].samples_ms == pytest.approx((20.0, 20.0))  # the mean of each block
    assert result["b"].samples_ms == pytest.approx((40.0, 40.0))
    with pytest.raises(ValueError, match="block >= 1"):
        timing.interleaved({"a": a}, repeats=1, block=0)


def test_speedup_is_the_median_of_paired_ratios() -> None:
    # the machine slows down 10x in the middle repeat: paired ratios stay 2
    slow = timing.Timing("slow", (20.0, 200.0, 22.0))
    fast = timing.Timing("fast", (10.0, 100.0, 11.0))
    assert timing.speedup(slow, fast) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="same interleaved run"):
        timing.speedup(slow, timing.Timing("other", (1.0,)))
    with pytest.raises(ValueError, match="repeats >= 1"):
        timing.interleaved({"a": lambda: None}, repeats=0)


def test_flop_count_of_a_linear_layer_is_two_per_multiply_add() -> None:
    layer = torch.nn.Linear(64, 32, bias=False)
    assert flops.count_flops(layer, torch.zeros(5, 64)) == 2 * 5 * 64 * 32


@pytest.mark.parametrize(
    ("flags", "simd", "lanes", "per_thread_gflops"),
    [
        ({"avx512f", "avx2", "fma"}, "avx512f", 16, 2.0 * 16 * 2 * 2),  # 2 GHz, FMA, 2 units
        ({"avx2", "fma", "sse2"}, "avx2", 8, 2.0 * 8 * 2 * 2),
        ({"sse2"}, "sse2", 4, 2.0 * 4 * 1 * 2),  # no FMA: 1 FLOP per lane
        ({"asimd"}, "asimd", 4, 2.0 * 4 * 2 * 2),  # Arm NEON has FMA
    ],
)
def test_theoretical_peak_from_the_cpu_flags(
    monkeypatch: pytest.MonkeyPatch, flags: set, simd: str, lanes: int, per_thread_gflops: float
) -> None:
    monkeypatch.setattr(flops, "cpu_description", lambda: ("test cpu", 2000.0, flags))
    monkeypatch.setattr(flops, "gemm_gflops", lambda threads, repeats: 10.0 * threads)
    peak = flops.cpu_peak(threads=2, repeats=1)
    assert (peak.simd, peak.lanes, peak.model) == (simd, lanes, "test cpu")
    assert peak.theoretical_gflops == pytest.approx(2 * per_thread_gflops)
    assert peak.gemm_gflops == 20.0
    # 1 GFLOP at 100 GFLOP/s takes 10 ms: 25 ms measured is 2.5 times the limit
    assert flops.limit_ratio(25.0, 10**9, 100.0) == pytest.approx(2.5)


def test_measured_gemm_rate_is_plausible() -> None:
    rate = flops.gemm_gflops(threads=1, repeats=2)
    assert 0.5 < rate < 500


def test_memory_figures() -> None:
    now, peak = rss_mib(), peak_rss_mib()
    assert 10 < now <= peak
    assert growth([500.0, 100.0, 100.0, 104.0], settle=1) == pytest.approx(0.04)
    assert growth([100.0], settle=1) == 0.0


@pytest.fixture(scope="module")
def bench_model(random_model_dir: Path) -> BenchModel:
    """The torch twin of random_model_dir (same seed and config as the conftest fixture)."""
    torch.manual_seed(MODEL_SEED)
    net = AffectModel(ModelConfig(variant="single", window=8)).eval()
    return BenchModel(torch_model=net, model_dir=random_model_dir)


def test_streaming_is_faster_than_recomputing_the_window(random_model_dir: Path) -> None:
    result = streaming_speedup(random_model_dir, CPU, threads=1, repeats=3)
    assert result["window"] == 8
    assert 0 < result["streaming_ms"] < result["recompute_ms"]
    assert result["speedup"] > 1.5  # 8 encoder runs against 1, the temporal part alike
    assert 0 < result["streaming_unfolded_ms"] < result["recompute_ms"]
    assert result["speedup_unfolded"] > 1.5


def test_ort_against_torch_times_the_same_step(bench_model: BenchModel) -> None:
    result = ort_vs_torch(bench_model, faces=2, providers=CPU, threads=1, repeats=2)
    assert result["faces"] == 2 and result["device"] == "cpu"
    assert result["torch_ms"] > 0 and result["ort_ms"] > 0 and result["speedup"] > 0


def test_encoder_limit_counts_the_encoder_flops(bench_model: BenchModel) -> None:
    peak = flops.CpuPeak(
        model="x",
        threads=1,
        clock_mhz=1000.0,
        simd="avx2",
        lanes=8,
        fma=True,
        theoretical_gflops=32.0,
        gemm_gflops=16.0,
    )
    result = flops.encoder_limit(bench_model, peak, CPU, faces=1, repeats=2)
    # MobileNetV4-conv-small up to its 7×7 map: about 0.37 GFLOPs per 224² crop
    assert 0.3 < result["gflops"] < 0.45
    assert result["limit_ms_gemm"] == pytest.approx(2 * result["limit_ms_theoretical"])
    assert result["ratio_theoretical"] == pytest.approx(
        result["ms"] / result["limit_ms_theoretical"]
    )


def test_end_to_end_stream_counts_every_frame(random_model_dir: Path) -> None:
    stream = Stream(faces=1, seconds=3.0, params={"intra_op_threads": 1})
    result = run_stream(pipeline_for(random_model_dir, stream), stream)
    assert result["received"] == 90 and result["failed"] == 0
    # every frame is handled or dropped as stale; at stop one may still wait in the slot, with
    # the frame it replaced kept as its backup (FrameWorker.stop counts neither)
    assert result["received"] - 2 <= result["handled"] + result["dropped"] <= result["received"]
    assert 0 < result["fps_out"] <= 31
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["faces_per_frame"] > 0.5  # the synthetic face is found
    assert {
        "decode",
        "detect",
        "align",
        "encode",
        "temporal",
        "publish",
        "serialise",
        "total",
    } <= set(result["stage_ms"])
    assert result["peak_rss_mib"] > 50


def test_eight_faces_stand_in_two_rows_the_detector_finds() -> None:
    """The 8-face stream: two rows of four in the 640 × 480 frame, and BlazeFace (the node's
    detector) finds nearly all of them."""
    from affect_perception.bench.end_to_end import ENCODING, FRAME_SIZE, render_frames
    from affect_perception.runtime.detection.base import DetectorConfig, build_detector
    from affect_perception.runtime.image_decode import decode_image

    detector, (width, height) = build_detector(DetectorConfig()), FRAME_SIZE
    frames = render_frames(8, count=8)
    found = [
        len(detector.detect(decode_image(ENCODING, width, height, step, False, data)).xyxy)
        for step, data in frames
    ]
    assert np.mean(found) >= 7 and max(found) == 8


def test_targets_and_table() -> None:
    figures = {"streaming_speedup_w8": 6.5, "e2e_p99_ms_1face": 61.0, "encoder_ms": 5.25}
    checks = cli._check_targets(figures)
    assert checks["streaming_speedup_w8"]["met"] and not checks["e2e_p99_ms_1face"]["met"]
    assert "encoder_ms" not in checks
    lines = cli.format_table(figures, checks).splitlines()
    assert lines[0].split() == ["figure", "value", "target", "met"]
    assert lines[1].split() == ["streaming_speedup_w8", "6.5", ">=", "6", "yes"]
    assert lines[2].split() == ["e2e_p99_ms_1face", "61", "<=", "25", "NO"]
    assert lines[3].split() == ["encoder_ms", "5.25"]


def test_cli_runs_the_chosen_sections_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(
        [
            "--quick",
            "--threads",
            "1",
            "--json",
            str(out),
            "--skip",
            "streaming",
            "runtimes",
            "backbones",
            "e2e",
            "int8",
            "threads",
        ]
    )
    assert cli.run(args) == 0
    results = json.loads(out.read_text())
    assert set(results["sections"]) == {"flops"}
    figures = results["figures"]
    # measured time over the time at each peak; the theoretical peak takes the nominal clock
    # (turbo not counted), so a turbo-boosted run may come in just under 1
    one = results["sections"]["flops"]["encoder"]["faces_1"]
    for figure, limit in (
        ("flop_limit_ratio", "limit_ms_theoretical"),
        ("flop_limit_ratio_gemm", "limit_ms_gemm"),
    ):
        assert one[limit] > 0
        assert figures[figure] == pytest.approx(figures["encoder_ms"] / one[limit])
    assert results["machine"]["cores"] >= 1 and results["threads"] == 1
    assert "flop_limit_ratio" in capsys.readouterr().out
    assert np.isfinite(results["sections"]["flops"]["peak"]["gemm_gflops"])


def test_threads_section_alternates_and_takes_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    from affect_perception.bench import end_to_end

    calls = []

    def fake_run(model_dir: Path, stream: Stream) -> dict:
        threads = stream.params["intra_op_threads"]
        calls.append((stream.faces, threads, stream.params["detector.threads"]))
        fps = 10.0 * threads + len(calls)  # later runs a little faster
        return {
            "fps_out": fps,
            "latency_ms": {"p99": 100.0 / threads},
            "dropped": 0,
            "stage_ms": {"encode": 5.0 * stream.faces},
        }

    monkeypatch.setattr(end_to_end, "run_in_child", fake_run)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    params = cli.node_params(parser.parse_args(["--detect-every", "3"]))
    section, figures = cli._threads(Path("m"), CPU, 3.0, params)
    assert params == {"detect_every": 3, "intra_op_threads": 1}  # the flag given, the threads
    assert calls == [
        (1, 1, 1),
        (1, 2, 2),
        (1, 2, 2),
        (1, 1, 1),
        (4, 1, 1),
        (4, 2, 2),
        (4, 2, 2),
        (4, 1, 1),
    ]
    assert section["faces_1_threads_1"]["fps"] == pytest.approx(12.5)  # runs 1 and 4
    assert section["faces_4_threads_2"]["stage_ms"] == {"encode": 20.0}
    assert figures["threads_faces_4_threads_2_p99_ms"] == 50.0
