"""Decoder fuzz: many malformed image messages through the decoding functions, memory capped.

Each case is drawn from its own seed: a raw ``sensor_msgs/Image`` with one to three fields
broken, or a small valid JPEG or PNG mutated where the decoders look first (structure-aware:
the frame size in SOF/IHDR set to large values, fill bytes, ``FF 00`` pairs and markers
inserted between segments, segment lengths forged, header bytes overwritten, the data cut),
or random bytes. Each must decode to an (H, W, 3) uint8 image within the pixel limit or raise
`ImageDecodeError`; anything else is a finding. The process's address space is capped, so a
case that allocates beyond what the pixel limit allows fails loudly instead of swapping.
"""

from __future__ import annotations

import resource
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from affect_perception.runtime.image_decode import (
    CODECS,
    MAX_PIXELS,
    ImageDecodeError,
    decode_compressed,
    decode_image,
)

# Address space the fuzzing may add to the process, MiB (the pixel limit's 300 MB image fits).
MEMORY_CAP_MIB = 1536
# Findings kept with their seeds for the report.
KEEP_FINDINGS = 20
# Data shorter than this is mutated no further.
MIN_MUTABLE = 64
# Large sizes written into forged headers.
HUGE_SIDES = (0, 1, 8, 10_001, 20_000, 65_535)
_MARKERS = (
    b"\xff\x00",
    b"\xff\xff\xff",
    b"\xff\xd0",
    b"\xff\xd9",
    b"\xff\xd8",
    b"\xff\xc0",
    b"\xff\xf0\x00\x04",
    b"\xff\xe1\x00\x01",
)


@dataclass
class FuzzReport:
    """What a fuzz run found.

    Attributes:
        cases: cases run; by_kind: cases per kind; outcomes: decoded / refused counts.
        findings: (seed, what) of the first cases that broke the contract.
        seconds: wall time; peak_rss_mib: the process's peak resident memory.
    """

    cases: int = 0
    by_kind: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    findings: list[tuple[int, str]] = field(default_factory=list)
    finding_count: int = 0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "by_kind": dict(self.by_kind),
            "outcomes": dict(self.outcomes),
            "findings": self.finding_count,
            "first_findings": self.findings,
            "seconds": round(self.seconds, 2),
            "cases_per_s": round(self.cases / max(self.seconds, 1e-9), 1),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "memory_cap_mib": MEMORY_CAP_MIB,
        }


def _seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (24, 32, 3), np.uint8), (5, 5), 0)
    return {kind: cv2.imencode(f".{kind}", image)[1].tobytes() for kind in ("jpg", "png")}


SEEDS = _seeds()


def _jpeg_case(rng: np.random.Generator) -> bytes:
    data = bytearray(SEEDS["jpg"])
    for _ in range(int(rng.integers(1, 4))):
        if len(data) < MIN_MUTABLE:  # cut short by an earlier mutation
            break
        op = int(rng.integers(6))
        if op == 0:  # frame size forged
            sof = data.find(b"\xff\xc0")
            if sof >= 0:
                data[sof + 5 : sof + 9] = b"".join(
                    int(rng.choice(HUGE_SIDES)).to_bytes(2, "big") for _ in range(2)
                )
        elif op == 1:  # a marker, fill bytes or stuffing inserted in the header
            at = int(rng.integers(2, min(len(data), 400)))
            data[at:at] = _MARKERS[int(rng.integers(len(_MARKERS)))]
        elif op == 2:  # a segment length forged
            at = data.find(b"\xff", int(rng.integers(2, 200)))
            if 0 <= at < len(data) - 4:
                data[at + 2 : at + 4] = int(rng.integers(0, 65536)).to_bytes(2, "big")
        elif op == 3:  # header bytes overwritten
            spots = rng.integers(0, min(len(data), 600), int(rng.integers(1, 9)))
            for spot in spots:
                data[spot] = int(rng.integers(256))
        elif op == 4:  # a hidden second frame header behind FF 00
            data[2:2] = b"\xff\x00\x00\x40" + bytes(data[2:64])
        else:
            data = data[: int(rng.integers(0, len(data)))]
    return bytes(data)


def _png_case(rng: np.random.Generator) -> bytes:
    data = bytearray(SEEDS["png"])
    for _ in range(int(rng.integers(1, 4))):
        if len(data) < MIN_MUTABLE:  # cut short by an earlier mutation
            break
        op = int(rng.integers(4))
        if op == 0:  # IHDR size forged (CRC left wrong or fixed)
            data[16:24] = b"".join(
                int(rng.choice(HUGE_SIDES)).to_bytes(4, "big") for _ in range(2)
            )
            if rng.uniform() < 0.5:  # a valid CRC, so decoders read the forged size
                data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
        elif op == 1:
            spots = rng.integers(8, min(len(data), 120), int(rng.integers(1, 9)))
            for spot in spots:
                data[spot] = int(rng.integers(256))
        elif op == 2:  # a chunk length forged
            at = 33 + int(rng.integers(0, 4))
            data[at : at + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "big")
        else:
            data = data[: int(rng.integers(0, len(data)))]
    return bytes(data)


def _raw_case(rng: np.random.Generator) -> tuple:
    encoding = str(rng.choice(list(CODECS)))
    width, height = int(rng.integers(1, 17)) * 2, int(rng.integers(1, 17))
    bpp = CODECS[encoding].bytes_per_pixel
    fields = {
        "encoding": encoding,
        "width": width,
        "height": height,
        "step": width * bpp,
        "is_bigendian": 0,
        "data": rng.integers(0, 256, width * bpp * height, np.uint8).tobytes(),
    }
    breakers: dict[str, Callable[[], object]] = {
        "encoding": lambda: str(rng.choice(["rgb7", "", "RGB8", "16UC1", "mono"])),
        "width": lambda: int(rng.choice([0, -1, width + 1, 2**31, 10_001])),
        "height": lambda: int(rng.choice([0, -1, height + 1, 2**31, 10_001])),
        "step": lambda: int(rng.choice([0, -1, fields["step"] - 1, 2**40])),
        "data": lambda: fields["data"][: int(rng.integers(0, len(fields["data"]) + 1))],
        "is_bigendian": lambda: int(rng.integers(0, 256)),
    }
    for name in rng.choice(list(breakers), int(rng.integers(1, 4)), replace=False):
        fields[name] = breakers[name]()
    return tuple(
        fields[k] for k in ("encoding", "width", "height", "step", "is_bigendian", "data")
    )


def run_case(seed: int) -> tuple[str, Callable[[], np.ndarray]]:
    """(kind, the decoding call) of case ``seed``."""
    rng = np.random.default_rng(seed)
    kind = ("raw", "jpeg", "png", "random")[seed % 4]
    if kind == "raw":
        fields = _raw_case(rng)
        return kind, lambda: decode_image(*fields)
    if kind == "random":
        data = rng.integers(0, 256, int(rng.integers(0, 300)), np.uint8).tobytes()
        return kind, lambda: decode_compressed(str(rng.choice(["jpeg", "png"])), data)
    data = _jpeg_case(rng) if kind == "jpeg" else _png_case(rng)
    return kind, lambda: decode_compressed(kind, data)


def _address_space() -> int:
    """The process's virtual memory size now, bytes (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def fuzz(cases: int, first_seed: int = 0, cap_mib: int = MEMORY_CAP_MIB) -> FuzzReport:
    """Run ``cases`` cases from ``first_seed``; the address space may grow by at most
    ``cap_mib`` MiB over what it is at the start (a case beyond it fails to allocate)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + cap_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    report = FuzzReport()
    start = time.perf_counter()
    try:
        for seed in range(first_seed, first_seed + cases):
            kind, call = run_case(seed)
            report.by_kind[kind] += 1
            what = _outcome(call)
            report.outcomes[what.split(":")[0]] += 1
            if what.startswith("finding"):
                report.finding_count += 1
                if len(report.findings) < KEEP_FINDINGS:
                    report.findings.append((seed, what))
            report.cases += 1
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    report.seconds = time.perf_counter() - start
    report.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def _outcome(call: Callable[[], np.ndarray]) -> str:
    try:
        image = call()
    except ImageDecodeError:
        return "refused"
    except Exception as err:  # noqa: BLE001 - the contract allows ImageDecodeError only
        return f"finding: {type(err).__name__}: {str(err)[:200]}"
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or image.shape[0] * image.shape[1] > MAX_PIXELS
    ):
        return f"finding: returned {getattr(image, 'shape', type(image))}"
    return "decoded"
