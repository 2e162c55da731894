"""Node health: rates over a sliding window, the status level (lifecycle state included), and
the DiagnosticArray."""

from __future__ import annotations

import dataclasses

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus

from affect_perception.ros.diagnostics import diagnostic_array, latest_value
from affect_perception.serving import health as levels
from affect_perception.serving.health import (
    DROP_WARN_FRACTION,
    NO_INPUT_S,
    CounterRate,
    Health,
    assess,
    health_values,
)

HEALTHY = Health(
    received=300,
    processed=290,
    dropped=10,
    decode_errors=0,
    processing_errors=0,
    input_rate=30.0,
    output_rate=29.0,
    drop_rate=1.0,
    decode_error_rate=0.0,
    error_rate=0.0,
    seconds_since_input=0.03,
    latency_p50_ms=21.0,
    latency_p95_ms=30.5,
    faces=2,
    warm=1,
    window_size=8,
    provider="CPUExecutionProvider",
    model_id="model-1",
    topic="/cam/image",
    state="active",
    reliable=1,
)


@pytest.mark.parametrize(
    ("samples", "rates"),
    [
        ([(0.0, 0)], [0.0]),  # one sample: no span yet
        ([(0.0, 0), (1.0, 30), (2.0, 60)], [0.0, 30.0, 30.0]),
        ([(0.0, 0), (0.0, 5)], [0.0, 0.0]),  # no time passed
        # the first second (100 events) leaves the 5 s window: 10 per second afterwards
        (
            [(0.0, 0), (1.0, 100), *[(t, 100 + 10 * (t - 1)) for t in range(2, 8)]],
            [0.0, 100.0, 55.0, 40.0, 32.5, 28.0, 10.0, 10.0],
        ),
    ],
)
def test_counter_rate_over_a_sliding_window(samples: list, rates: list) -> None:
    meter = CounterRate(window_s=5.0)
    got = [meter.update(total, now) for now, total in samples]
    assert got == pytest.approx(rates)


@pytest.mark.parametrize(
    ("changes", "level", "words"),
    [
        ({}, DiagnosticStatus.OK, "29.0 frames/s, 2 faces"),
        ({"seconds_since_input": NO_INPUT_S + 1}, DiagnosticStatus.WARN, "no image on /cam/image"),
        ({"seconds_since_input": float("inf")}, DiagnosticStatus.WARN, "no image"),  # none yet
        ({"decode_error_rate": 0.4}, DiagnosticStatus.WARN, "0.4 undecodable frames/s"),
        (
            {"drop_rate": 30 * DROP_WARN_FRACTION + 1, "output_rate": 12.0},
            DiagnosticStatus.WARN,
            "processing 12.0 of 30.0 frames/s",
        ),
        (
            {"error_rate": 2.0, "decode_error_rate": 1.0},
            DiagnosticStatus.ERROR,
            "pipeline failing on 2.0 frames/s; 1.0 undecodable",
        ),  # the worst level, every reason
        # inactive: no input is expected, so no warning about it
        (
            {"state": "inactive", "seconds_since_input": float("inf"), "input_rate": 0.0},
            DiagnosticStatus.OK,
            "inactive: not processing images (activate the node to start)",
        ),
    ],
)
def test_level_and_message(changes: dict, level: bytes, words: str) -> None:
    got_level, message = assess(dataclasses.replace(HEALTHY, **changes))
    assert got_level == level
    assert words in message


def test_levels_are_the_diagnostic_status_constants() -> None:
    assert (levels.OK, levels.WARN, levels.ERROR) == (
        DiagnosticStatus.OK,
        DiagnosticStatus.WARN,
        DiagnosticStatus.ERROR,
    )


def test_values_name_every_figure_the_node_reports() -> None:
    values = dict(health_values(HEALTHY))
    assert values["input rate (Hz)"] == "30.0" and values["output rate (Hz)"] == "29.0"
    assert values["frames dropped (stale)"] == "10" and values["decode errors"] == "0"
    assert values["latency p50 (ms)"] == "21.0" and values["latency p95 (ms)"] == "30.5"
    assert values["execution provider"] == "CPUExecutionProvider"
    assert (values["faces tracked"], values["warm windows"], values["cold windows"]) == (
        "2",
        "1",
        "1",
    )
    assert values["model id"] == "model-1" and values["window size"] == "8"
    assert values["lifecycle state"] == "active" and values["reliable faces"] == "1"


def test_latency_before_the_first_frame_is_nan() -> None:
    values = dict(health_values(dataclasses.replace(HEALTHY, latency_p50_ms=float("nan"))))
    assert values["latency p50 (ms)"] == "nan"


def test_diagnostic_array_holds_one_named_status() -> None:
    stamp = Time(sec=12, nanosec=5)
    array = diagnostic_array(
        dataclasses.replace(HEALTHY, decode_error_rate=1.0), "/robot/affect_perception_node", stamp
    )
    assert array.header.stamp == stamp
    (status,) = array.status
    assert status.name == "/robot/affect_perception_node"
    assert status.level == DiagnosticStatus.WARN and status.hardware_id == "model-1"
    assert [kv.key for kv in status.values] == [k for k, _ in health_values(HEALTHY)]


def test_latest_value_reads_the_newest_status_of_that_name() -> None:
    stamp = Time(sec=1)
    old = diagnostic_array(HEALTHY, "/a", stamp)
    new = diagnostic_array(dataclasses.replace(HEALTHY, model_id="model-2"), "/a", stamp)
    other = diagnostic_array(HEALTHY, "/b", stamp)
    key = "model id"
    assert latest_value([old, new, other], "/a", key) == "model-2"  # newest wins
    assert latest_value([old], "/a", key) == "model-1"
    assert latest_value([other], "/a", key) is None  # no status of that name
    assert latest_value([old], "/a", "no such key") is None
