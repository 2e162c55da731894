"""affect_perception_node as a real process under bad input, load and faults: fuzzed Image and
CompressedImage messages all counted in /diagnostics with good frames still answered after
them; a 120 fps burst with stale frames dropped, latency bounded and memory flat; SIGTERM in
the middle of a burst; corrupt model files refused at start-up; a missing execution provider
falling back to the CPU with a warning."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from affect_perception.bench.soak import NodeUnderLoad, render_messages
from affect_perception.runtime.image_decode import (
    ImageDecodeError,
    decode_compressed_msg,
    decode_image_msg,
)

if TYPE_CHECKING:
    from rclpy.qos import QoSProfile

pytestmark = pytest.mark.ros

SMALL = (320, 240)  # frame size of the good frames
# Bad messages through each node, and the pause after each: the worker rejects one in well
# under a millisecond, so none waits long enough to be replaced.
RAW_FUZZ, COMPRESSED_FUZZ = 300, 200
FUZZ_GAP_S = 0.01
LOSS_ALLOWED = 0.95  # share of best-effort frames that must arrive over loopback
# The burst: rate, length, and what "bounded" and "flat" allow on a loaded 2-core machine.
BURST_FPS, BURST_S = 120.0, 10.0
LATENCY_LIMIT_MS = 1500.0
RSS_SLACK = 0.10
SETTLE_S = 3.0  # start of the burst left out of the memory comparison
THREADS = {"intra_op_threads": 1}
COUNTS = (
    "frames received",
    "frames processed",
    "frames dropped (stale)",
    "decode errors",
    "processing errors",
)


@pytest.fixture
def node(rclpy_init: None, random_model_dir: Path, tmp_path: Path) -> Iterator:
    """Start nodes on demand (``make(**params)``); each is stopped with SIGTERM at the end."""
    started: list[NodeUnderLoad] = []

    def make(
        image_type: type | None = None, publisher_qos: QoSProfile | None = None, **params: object
    ) -> NodeUnderLoad:
        log = tmp_path / f"node{len(started)}.log"
        started.append(
            NodeUnderLoad(
                random_model_dir,
                log,
                {**THREADS, **params},
                image_type,
                publisher_qos=publisher_qos,
            )
        )
        started[-1].wait_ready()
        return started[-1]

    yield make
    for load in started:
        assert load.stop(signal.SIGTERM) == 0, load.log_path.read_text()[-3000:]
        assert "Traceback" not in load.log_path.read_text()


def counts(load: NodeUnderLoad) -> dict[str, int]:
    """The node's running totals from its latest /diagnostics."""
    return {key: int(load.diagnostic(key) or 0) for key in COUNTS}


def settle_counts(load: NodeUnderLoad) -> dict[str, int]:
    """Totals once two /diagnostics in a row agree and every frame received is handled."""
    last: list[dict[str, int]] = []

    def settled() -> bool:
        c = counts(load)
        handled = (
            c["frames processed"]
            + c["frames dropped (stale)"]
            + c["decode errors"]
            + c["processing errors"]
        )
        steady = c == (last[-1] if last else None)
        last.append(c)
        return steady and c["frames received"] == handled

    assert load.spin_until(
        lambda: load.fresh_diagnostic(COUNTS[0]) is not None and settled(), 15.0
    ), last[-1:]
    return last[-1]


def _header():
    from std_msgs.msg import Header

    return Header(frame_id="camera")


def fuzzed_images(rng: np.random.Generator, count: int) -> list:
    """``count`` Image messages the decoder rejects: fields of a valid one broken at random."""
    from affect_perception.ros.conversions import image_message

    breakers = {
        "encoding": lambda m: setattr(
            m,
            "encoding",
            str(rng.choice(["rgb7", "", "BGR8", "16UC1", "mono", "yuv420", "bayer_rggb16"])),
        ),
        "width": lambda m: setattr(m, "width", int(rng.choice([0, m.width + 1, 2**31]))),
        "height": lambda m: setattr(m, "height", int(rng.choice([0, m.height + 1, 2**20]))),
        "step": lambda m: setattr(m, "step", int(rng.choice([0, max(m.step - 1, 0), 1]))),
        "data": lambda m: setattr(m, "data", bytes(m.data[: rng.integers(0, len(m.data))])),
        "is_bigendian": lambda m: setattr(m, "is_bigendian", int(rng.integers(0, 256))),
    }
    messages = []
    while len(messages) < count:
        side = int(rng.integers(1, 17))
        encoding = str(rng.choice(["rgb8", "bgr8", "mono8", "mono16", "rgba8", "yuv422"]))
        rgb = rng.integers(0, 256, (side, side * 2, 3), np.uint8)
        msg = image_message(rgb, _header(), encoding)
        for name in rng.choice(list(breakers), size=rng.integers(1, 4), replace=False):
            breakers[name](msg)
        if _rejected(decode_image_msg, msg):
            messages.append(msg)
    return messages


def fuzzed_compressed(rng: np.random.Generator, count: int) -> list:
    """``count`` CompressedImage messages the decoder rejects: bad formats, cut, overwritten
    or random bytes."""
    from affect_perception.ros.conversions import compressed_message

    messages = []
    while len(messages) < count:
        rgb = rng.integers(0, 256, (12, 16, 3), np.uint8)
        msg = compressed_message(rgb, _header(), str(rng.choice(["jpeg", "png"])))
        data = np.frombuffer(bytes(msg.data), np.uint8).copy()
        kind = rng.integers(4)
        if kind == 0:
            data = data[: rng.integers(0, len(data))]
        elif kind == 1:
            data[rng.integers(0, len(data), 8)] = rng.integers(0, 256, 8)
        elif kind == 2:
            data = rng.integers(0, 256, rng.integers(0, 200), np.uint8)
        else:
            msg.format = str(rng.choice(["tiff", "", "16UC1; compressedDepth png", "bmp"]))
        msg.data = data.tobytes()
        if _rejected(decode_compressed_msg, msg):
            messages.append(msg)
    return messages


def _rejected(decode, msg) -> bool:  # noqa: ANN001
    try:
        decode(msg)
    except ImageDecodeError:
        return True
    return False


@pytest.mark.parametrize(("compressed", "count"), [(False, RAW_FUZZ), (True, COMPRESSED_FUZZ)])
def test_fuzzed_frames_are_all_counted_and_good_frames_still_answered(
    node, compressed: bool, count: int
) -> None:
    from sensor_msgs.msg import CompressedImage

    rng = np.random.default_rng(10 + compressed)
    if compressed:
        load = node(CompressedImage, use_compressed="true", qos_depth=100)
        bad = fuzzed_compressed(rng, count)
    else:
        load = node(qos_depth=100)
        bad = fuzzed_images(rng, count)
    for msg in bad:
        load.publish(msg)
        load.spin_until(lambda: False, FUZZ_GAP_S)
    after_bad = settle_counts(load)
    print("after the bad frames:", after_bad)  # figures for RELIABILITY.md (pytest -s)
    # the subscription is best effort, so loopback may lose a frame now and then; every bad
    # frame that arrived is counted: as undecodable, or as stale when a newer one replaced it
    received = after_bad["frames received"]
    assert LOSS_ALLOWED * len(bad) <= received <= len(bad)
    assert after_bad["decode errors"] + after_bad["frames dropped (stale)"] == received
    assert after_bad["decode errors"] >= 0.9 * received
    assert after_bad["frames processed"] == 0 and after_bad["processing errors"] == 0
    assert not load.outputs

    if compressed:
        from affect_perception.ros.conversions import compressed_message

        good = [
            compressed_message(
                np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3), _header()
            )
            for m in render_messages(1, SMALL)
        ]
    else:
        good = render_messages(1, SMALL)
    record = load.play(good, fps=30.0, seconds=2.0)
    final = settle_counts(load)
    assert LOSS_ALLOWED * record.sent <= final["frames received"] - received <= record.sent
    assert final["decode errors"] == after_bad["decode errors"]
    assert final["frames processed"] == len(load.outputs) >= 0.5 * record.sent
    assert sum(record.faces) > 0  # the face of the good frames is found again


def test_burst_drops_stale_frames_with_bounded_latency_and_flat_memory(node) -> None:
    load = node()
    record = load.play(render_messages(1, SMALL), fps=BURST_FPS, seconds=BURST_S)
    total = settle_counts(load)
    latency = record.latency_ms()
    print(
        f"burst: {record.sent} sent, {total}, latency p50/p99/max "
        f"{np.percentile(latency, [50, 99, 100]).round(1)} ms, node MiB {record.rss_mib()}"
    )
    # stale frames go: replaced in the best-effort subscription's one-deep queue before the
    # node takes them, or replaced in the worker's slot (counted); no frame queues up
    # every frame received is processed or counted as stale; how many go stale depends on the
    # machine's speed (a fast CI runner processed 706 of 1200), so only the accounting is held
    assert total["frames processed"] == len(load.outputs) <= total["frames received"]
    assert total["frames processed"] + total["frames dropped (stale)"] == total["frames received"]
    assert total["frames received"] <= record.sent
    assert total["processing errors"] == 0 and total["decode errors"] == 0
    assert latency.max() < LATENCY_LIMIT_MS, np.percentile(latency, [50, 99, 100])
    first = np.median(record.latency_ms(SETTLE_S, SETTLE_S + 3))
    last = np.median(record.latency_ms(BURST_S - 3, BURST_S))
    assert last < 2 * first + 50, (first, last)  # no queue builds up
    rss = [mib for t, mib in record.rss if t >= SETTLE_S]
    assert max(rss) <= (1 + RSS_SLACK) * rss[0], rss


def test_sigterm_in_the_middle_of_a_burst_exits_cleanly(
    rclpy_init: None, random_model_dir: Path, tmp_path: Path
) -> None:
    load = NodeUnderLoad(random_model_dir, tmp_path / "node.log", THREADS)
    load.wait_ready()

    def terminate(second: int) -> None:
        if second == 2:
            load.process.send_signal(signal.SIGTERM)

    record = load.play(render_messages(1, SMALL), fps=BURST_FPS, seconds=6.0, on_second=terminate)
    assert load.outputs  # it was answering when the signal came
    assert record.sent < BURST_FPS * 6.0  # the run stopped when the node had gone
    code = load.stop(signal.SIGTERM)  # already exiting: waits for it
    text = load.log_path.read_text()
    assert code == 0, text
    assert "Traceback" not in text


def _broken_model(source: Path, target: Path, file: str, content: bytes | None) -> Path:
    shutil.copytree(source, target)
    if content is None:
        (target / file).unlink()
    else:
        (target / file).write_bytes(content)
    return target


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("encoder.onnx", None),  # missing
        ("temporal.onnx", b"\x08\x07garbage" * 50),  # not an ONNX model at all
        ("encoder.onnx", "truncate"),  # cut in half
    ],
)
def test_missing_or_corrupt_model_files_stop_start_up_naming_the_file(
    rclpy_init: None,
    random_model_dir: Path,
    tmp_path: Path,
    file: str,
    content: bytes | str | None,
) -> None:
    if content == "truncate":
        whole = (random_model_dir / file).read_bytes()
        content = whole[: len(whole) // 2]
    model = _broken_model(random_model_dir, tmp_path / "model", file, content)
    load = NodeUnderLoad(model, tmp_path / "node.log", THREADS)
    with pytest.raises(RuntimeError, match="did not start"):
        load.wait_ready(timeout=60.0)
    code = load.stop()
    text = load.log_path.read_text()
    assert code == 2, text
    assert "parameter 'model_dir'" in text and str(model) in text and file in text
    assert "Traceback" not in text


def test_missing_execution_provider_falls_back_to_cpu_with_a_warning(node) -> None:
    load = node(providers="[CUDAExecutionProvider]")
    record = load.play(render_messages(1, SMALL), fps=30.0, seconds=2.0)
    assert len(record.latency) > 0
    assert load.fresh_diagnostic("execution provider") == "CPUExecutionProvider"
    log = load.log_path.read_text()
    assert "CUDAExecutionProvider is not available" in log


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"detector.model_path": "/etc/passwd"}, "detector.model_path"),
        ({"detector.model_path": "encoder"}, "detector.model_path"),  # the affect model's encoder
        ({"detector.model_path": "missing.onnx"}, "detector.model_path"),
        ({"detector.backend": "yunet"}, "detector.backend"),  # no model path
    ],
)
def test_bad_detector_files_stop_start_up_naming_the_parameter(
    rclpy_init: None,
    random_model_dir: Path,
    tmp_path: Path,
    params: dict[str, str],
    parameter: str,
) -> None:
    """Issue 22, defect 4: one FATAL line naming the parameter, exit 2, no traceback."""
    if params.get("detector.model_path") == "encoder":
        params = {"detector.model_path": str(random_model_dir / "encoder.onnx")}
    elif params.get("detector.model_path") == "missing.onnx":
        params = {"detector.model_path": str(tmp_path / "missing.onnx")}
    load = NodeUnderLoad(random_model_dir, tmp_path / "node.log", {**THREADS, **params})
    with pytest.raises(RuntimeError, match="did not start"):
        load.wait_ready(timeout=60.0)
    code = load.stop()
    text = load.log_path.read_text()
    fatal = [line for line in text.splitlines() if "FATAL" in line]
    assert code == 2, text
    assert len(fatal) == 1 and f"parameter '{parameter}'" in fatal[0], text
    assert "Traceback" not in text


# Bad messages mixed with good frames (AFFECT_LIVE_FUZZ=2000 for the RELIABILITY.md figure):
# each cycle sends two good frames PAIR_GAP_S apart (the second waits in the worker's slot
# while the first is processed), then BAD_PER_CYCLE bad messages at once, then waits.
LIVE_FUZZ = int(os.environ.get("AFFECT_LIVE_FUZZ", "300"))
BAD_PER_CYCLE = 10
PAIR_GAP_S, CYCLE_S = 0.02, 0.4
# Pairs whose second frame may be lost to a loaded moment (its first answered instead); seen
# once in 30 in some full-suite runs on the 2-core machine.
MAX_LOADED_PAIRS = 2


@pytest.mark.parametrize("compressed", [False, True])
def test_bad_messages_mixed_with_good_frames_never_cost_a_good_frame(
    node, compressed: bool
) -> None:
    """Issue 22: malformed messages are refused in the subscription callback (counted as
    decode errors) before they can replace the good frame waiting for the worker, so every
    good frame is answered (before: a bad message took the waiting frame's place)."""
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import CompressedImage

    from affect_perception.ros.conversions import compressed_message

    rng = np.random.default_rng(20 + compressed)
    good = render_messages(1, SMALL)
    # a reliable publisher (the node follows it, best_available): a loaded machine's UDP
    # would otherwise lose raw frames before the node (12 of 360 seen once), which is no
    # bad message's doing
    reliable = QoSProfile(depth=100)
    if compressed:
        load = node(CompressedImage, reliable, use_compressed="true", qos_depth=100)
        bad = fuzzed_compressed(rng, LIVE_FUZZ)
        good = [
            compressed_message(
                np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3), _header()
            )
            for m in good
        ]
    else:
        load = node(publisher_qos=reliable, qos_depth=100)
        bad = fuzzed_images(rng, LIVE_FUZZ)

    # the node's side of the match may lag this one's (a first frame was seen lost): good
    # frames until one is answered, and the counts from there on
    def answered_once() -> bool:
        load.publish(good[0])
        return load.spin_until(lambda: bool(load.outputs), 0.5)

    assert any(answered_once() for _ in range(20))
    before = settle_counts(load)
    load.outputs.clear()
    cycles = len(bad) // BAD_PER_CYCLE
    pairs = []  # stamps of each cycle's good frames; the bad messages follow the second
    for cycle in range(cycles):
        first = good[(2 * cycle) % len(good)]
        load.publish(first)
        first_ns = _stamp_ns(first)
        load.spin_until(lambda: False, PAIR_GAP_S)
        second = good[(2 * cycle + 1) % len(good)]
        load.publish(second)
        pairs.append((first_ns, _stamp_ns(second)))
        for msg in bad[BAD_PER_CYCLE * cycle : BAD_PER_CYCLE * (cycle + 1)]:
            load.publish(msg)
        load.spin_until(lambda: False, CYCLE_S)
    total = {key: value - before[key] for key, value in settle_counts(load).items()}
    answered = {_stamp_ns(m) for _, m in load.outputs}
    lost = [(a, b) for a, b in pairs if b not in answered]
    print(
        f"live fuzz ({'compressed' if compressed else 'raw'}): {2 * cycles} good frames, "
        f"{len(bad)} bad, {total}, answered {len(load.outputs)}, of the frames followed by "
        f"bad messages {cycles - len(lost)} of {cycles}"
    )
    # every good frame followed by bad messages is answered, but for a loaded moment when the
    # worker had not yet taken the first frame of the pair as the second came: both waited,
    # and the slot's one backup keeps the first (FrameWorker), which is answered instead (a
    # frame of the pair answered, as without bad messages). A bad message taking the waiting
    # frame's place (issue 22's bug) would lose the second frame of every pair that waited:
    # hence the bound. Every message is counted:
    # bad ones refused in the callback or by the decoder, or (compressed data only decoding
    # finds bad) replaced by the next bad one.
    assert all(a in answered for a, _ in lost) and len(lost) <= MAX_LOADED_PAIRS, lost
    assert total["frames received"] == len(bad) + 2 * cycles, total
    assert total["frames processed"] == len(load.outputs), total
    lost_to_good = 2 * cycles - total["frames processed"]
    assert total["decode errors"] + total["frames dropped (stale)"] == len(bad) + lost_to_good
    assert total["processing errors"] == 0, total
    if not compressed:  # every malformed raw message is refused in the callback
        assert total["decode errors"] == len(bad), total
    else:  # the native decoders' complaints are counted, not printed (issue 22, defect 6)
        assert int(load.fresh_diagnostic("native decoder messages")) > 0
        log = load.log_path.read_text()
        assert not any(word in log for word in ("libpng", "Corrupt JPEG", "grfmt_"))


def _stamp_ns(msg) -> int:  # noqa: ANN001
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
