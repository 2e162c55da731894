"""How close the encoder runs to what the processor's FLOP rate allows.

FLOPs are counted by torch's ``FlopCounterMode`` (two per multiply-accumulate of every
convolution and matrix product; elementwise operations, normalisation and activations are not
counted, so the count is a lower bound of the work). Two peaks are given:

- theoretical: cores × clock × SIMD lanes (fp32) × 2 (a fused multiply-add is two FLOPs) ×
  FMA units per core. Lanes come from the CPU flags (AVX-512: 16, AVX2: 8, SSE/NEON: 4); two
  FMA units per core is assumed (true of current x86 server cores: AMD Zen 2 and later,
  Intel Skylake-SP and later with two AVX-512 units); the clock is the one /proc/cpuinfo
  reports now (a virtual machine shows its nominal clock; turbo is not counted).
- practical: the rate a large float32 matrix product reaches in torch with the same threads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from affect_perception.bench.machine import cpu_description
from affect_perception.bench.models import BenchModel
from affect_perception.bench.timing import interleaved
from affect_perception.runtime.engine import AffectEngine, EngineConfig

# fp32 lanes per SIMD register, by the widest flag present, widest first.
SIMD_LANES = (("avx512f", 16), ("avx2", 8), ("avx", 8), ("sse2", 4), ("asimd", 4))
# FMA units per core assumed for the theoretical peak.
FMA_UNITS = 2
# Side of the square matrices of the practical-peak product (2 × side³ FLOPs).
GEMM_SIDE = 1024


@dataclass(frozen=True)
class CpuPeak:
    """The processor's peak float32 rate for ``threads`` threads, and how it was estimated."""

    model: str
    threads: int
    clock_mhz: float
    simd: str
    lanes: int
    fma: bool
    theoretical_gflops: float
    gemm_gflops: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return asdict(self)


def theoretical_gflops(clock_mhz: float, lanes: int, fma: bool, threads: int) -> float:
    """threads × clock × lanes × (2 with FMA) × FMA_UNITS, in GFLOP/s."""
    return threads * clock_mhz * 1e-3 * lanes * (2 if fma else 1) * FMA_UNITS


def gemm_gflops(threads: int, repeats: int) -> float:
    """Median rate of a GEMM_SIDE² float32 matrix product in torch, in GFLOP/s."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = (
        torch.from_numpy(rng.standard_normal((GEMM_SIDE, GEMM_SIDE), np.float32)) for _ in range(2)
    )
    timing = interleaved({"gemm": lambda: torch.mm(a, b)}, repeats)["gemm"]
    return 2 * GEMM_SIDE**3 / (timing.median_ms * 1e-3) / 1e9


def cpu_peak(threads: int, repeats: int) -> CpuPeak:
    """Theoretical and practical peak float32 rates of this processor for ``threads``."""
    model, clock, flags = cpu_description()
    simd, lanes = next(((name, n) for name, n in SIMD_LANES if name in flags), ("scalar", 1))
    fma = "fma" in flags or "asimd" in flags
    return CpuPeak(
        model=model,
        threads=threads,
        clock_mhz=clock,
        simd=simd,
        lanes=lanes,
        fma=fma,
        theoretical_gflops=theoretical_gflops(clock, lanes, fma, threads),
        gemm_gflops=gemm_gflops(threads, repeats),
    )


def count_flops(module: object, *inputs: object) -> int:
    """FLOPs of one forward call of a torch module, as torch's FlopCounterMode counts them."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return int(counter.get_total_flops())


def limit_ratio(measured_ms: float, flops: int, gflops: float) -> float:
    """Measured time over the time ``flops`` take at ``gflops`` (1: running at that peak)."""
    return measured_ms / (flops / (gflops * 1e9) * 1e3)


def encoder_limit(
    model: BenchModel, peak: CpuPeak, providers: tuple[str, ...], faces: int, repeats: int
) -> dict[str, float]:
    """The encoder's FLOPs, its onnxruntime time for ``faces`` crops and both limit ratios.

    Returns:
        ``faces``, ``gflops`` (per call), ``ms`` (median), ``limit_ms_theoretical`` and
        ``limit_ms_gemm`` (the time at each peak), ``ratio_theoretical`` and ``ratio_gemm``
        (measured over limit).
    """
    import torch

    # unfolded: the FLOPs counted are those of the torch encoder alone
    engine = AffectEngine(
        EngineConfig(
            model_dir=model.model_dir,
            providers=providers,
            intra_op_threads=peak.threads,
            fold=False,
        )
    )
    side = engine.info.input_size
    image = np.random.default_rng(3).standard_normal((faces, 3, side, side), np.float32)
    flops = count_flops(model.torch_model.encode, torch.from_numpy(image))
    timing = interleaved({"encoder": lambda: engine.encoder.run(None, {"image": image})}, repeats)[
        "encoder"
    ]
    return {
        "faces": faces,
        "gflops": flops / 1e9,
        "ms": timing.median_ms,
        "limit_ms_theoretical": flops / peak.theoretical_gflops / 1e6,
        "limit_ms_gemm": flops / peak.gemm_gflops / 1e6,
        "ratio_theoretical": limit_ratio(timing.median_ms, flops, peak.theoretical_gflops),
        "ratio_gemm": limit_ratio(timing.median_ms, flops, peak.gemm_gflops),
    }
