"""The One-Euro filter: the same smoothing at 10 and 30 fps and across dropped frames, a step
followed within the documented delay, jitter reduced, non-increasing stamps handled, and one
filter per output group."""

from __future__ import annotations

import math

import numpy as np
import pytest

from affect_perception.runtime.smoothing import (
    GroupSmoother,
    OneEuroConfig,
    OneEuroFilter,
    OneEuroParams,
    OutputSmoother,
    smoothing_factor,
)

DURATION_S = 6.0
STEP_AT_S = 2.0


def wave(t: np.ndarray) -> np.ndarray:
    """A slow wave and a faster swing (valence-like, within [-1, 1])."""
    return 0.3 * np.sin(2 * np.pi * 0.25 * t) + 0.2 * np.sin(2 * np.pi * 1.1 * t + 1.0)


def run(params: OneEuroParams, stamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Filter one track's scalar signal; the outputs at ``stamps``."""
    one_euro = OneEuroFilter(params)
    return np.array(
        [
            one_euro(["a"], {"va": np.array([[v, -v]])}, float(t))["va"][0, 0]
            for t, v in zip(stamps, values, strict=True)
        ]
    )


def sampled(fps: float) -> np.ndarray:
    return np.arange(0, DURATION_S + 1e-9, 1 / fps)


@pytest.mark.parametrize(
    "params", [OneEuroParams(1.0, 0.0, 1.0), OneEuroConfig().va, OneEuroConfig().au]
)
def test_the_same_signal_at_10_and_30_fps_gives_the_same_output(params: OneEuroParams) -> None:
    """Compared at the 10 fps stamps, within 0.05 (the signal spans [-0.5, 0.5]): what is left
    comes from sampling the moving signal (a 10 fps frame stands for 0.1 s of it, a 30 fps one
    for 0.033 s), not from the frame rate in the filter. A per-frame EMA differs by more than
    three times that. (A step differs by where between two frames it fell, which 10 fps cannot
    tell: see the delay test.)"""
    slow, fast = sampled(10), sampled(30)
    out_slow, out_fast = run(params, slow, wave(slow)), run(params, fast, wave(fast))
    common = out_fast[::3]  # 30 fps frames at the 10 fps stamps
    assert len(common) == len(out_slow)
    assert np.max(np.abs(common - out_slow)) < 0.05
    # for comparison: per-frame smoothing (an EMA of fixed weight) differs grossly
    alpha = float(smoothing_factor(params.min_cutoff, 1 / 30))
    ema_slow, ema_fast = ema(wave(slow), alpha), ema(wave(fast), alpha)
    assert np.max(np.abs(ema_fast[::3] - ema_slow)) > 0.15


def ema(values: np.ndarray, alpha: float) -> np.ndarray:
    out, y = [], values[0]
    for v in values:
        y = alpha * v + (1 - alpha) * y
        out.append(y)
    return np.array(out)


def test_dropped_frames_do_not_change_the_smoothing() -> None:
    params = OneEuroConfig().va
    full = sampled(30)
    kept = np.random.default_rng(0).uniform(size=len(full)) > 0.4  # 40 % of frames lost
    kept[0] = True
    out_full = run(params, full, wave(full))
    out_kept = run(params, full[kept], wave(full[kept]))
    assert np.max(np.abs(out_full[kept] - out_kept)) < 0.05


@pytest.mark.parametrize("fps", [10.0, 30.0])
@pytest.mark.parametrize(
    "params",
    [
        OneEuroParams(0.5, 0.0, 1.0),
        OneEuroParams(1.0, 0.0, 1.0),
        OneEuroParams(1.0, 1.0, 1.0),
        OneEuroParams(2.0, 5.0, 1.0),
    ],
)
def test_a_step_is_followed_within_the_documented_delay(fps: float, params: OneEuroParams) -> None:
    """OneEuroParams: 90 % of a step within ln(10) / (2 pi min_cutoff) plus one frame, and
    monotonically (no overshoot); smoothed, so not at once when beta is 0."""
    stamps = sampled(fps)
    values = (stamps >= STEP_AT_S).astype(float)
    out = run(params, stamps, values)
    after = stamps >= STEP_AT_S
    reached = stamps[after & (out >= 0.9)][0]
    delay = math.log(10) / (2 * math.pi * params.min_cutoff) + 1 / fps
    assert reached - STEP_AT_S <= delay + 1e-9
    assert np.all(np.diff(out[after]) >= 0) and out.max() <= 1.0
    if params.beta == 0:
        assert out[after][0] < 0.9


def test_beta_follows_a_fast_step_sooner() -> None:
    stamps = sampled(30)
    values = (stamps >= STEP_AT_S).astype(float)
    still = run(OneEuroParams(0.5, 0.0, 1.0), stamps, values)
    agile = run(OneEuroParams(0.5, 2.0, 1.0), stamps, values)
    first = int(np.argmax(stamps >= STEP_AT_S))
    assert agile[first + 3] > still[first + 3] + 0.2


def test_jitter_on_a_still_signal_is_reduced() -> None:
    stamps = sampled(30)
    noisy = 0.2 + np.random.default_rng(1).normal(0, 0.05, len(stamps))
    out = run(OneEuroConfig().va, stamps, noisy)
    assert np.std(out[30:]) < 0.5 * np.std(noisy[30:])
    assert abs(np.mean(out[30:]) - 0.2) < 0.02


def test_a_repeated_stamp_returns_the_previous_output_and_an_earlier_one_restarts() -> None:
    one_euro = OneEuroFilter(OneEuroParams(1.0, 0.0, 1.0))

    def step(value: float, stamp: float) -> float:
        return float(one_euro(["a"], {"va": np.array([[value, value]])}, stamp)["va"][0, 0])

    assert step(0.0, 1.0) == 0.0  # a track's first value passes through
    moved = step(1.0, 1.1)
    assert 0 < moved < 1
    assert step(-1.0, 1.1) == pytest.approx(moved)  # the same frame again: unchanged
    assert step(1.0, 1.2) > moved  # and the state was kept
    assert step(0.7, 0.5) == pytest.approx(0.7)  # time went back: restarts at the value
    assert 0.7 < step(1.0, 0.6) < 1.0


def test_nan_state_is_replaced_by_the_next_value() -> None:
    one_euro = OneEuroFilter(OneEuroParams())
    one_euro(["a"], {"va": np.array([[np.nan, 0.5]])}, 0.0)
    out = one_euro(["a"], {"va": np.array([[0.25, 0.5]])}, 0.1)["va"]
    np.testing.assert_allclose(out, [[0.25, 0.5]])


def test_groups_get_their_own_settings_and_other_outputs_pass() -> None:
    config = OneEuroConfig(va=OneEuroParams(0.2, 0.0, 1.0), au=OneEuroParams(20.0, 0.0, 1.0))
    smoother = config.smoother()
    assert isinstance(smoother, GroupSmoother) and isinstance(smoother, OutputSmoother)
    first = {
        "va": np.zeros((2, 2), np.float32),
        "au": np.zeros((2, 12), np.float32),
        "emi": np.zeros((2, 6), np.float32),
        "ah": np.zeros((2, 1), np.float32),
    }
    smoother(["a", "b"], first, 0.0)
    ones = {k: np.ones_like(v) for k, v in first.items()}
    out = smoother(["a", "b"], ones, 0.1)
    assert out["va"].dtype == np.float32 and out["va"].shape == (2, 2)
    assert out["va"][0, 0] < 0.2 < 0.9 < out["au"][0, 0]  # slow va, fast au
    np.testing.assert_array_equal(out["ah"], 1.0)  # hesitancy is not smoothed
    smoother.remove(["a"])
    again = smoother(["a", "b"], ones, 0.2)
    np.testing.assert_array_equal(again["va"][0], 1.0)  # a removed track starts again
    assert again["va"][1, 0] < 1.0
    smoother.reset()
    assert all(len(f) == 0 for f in smoother.smoothers.values())


@pytest.mark.parametrize("bad", [{"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1}])
def test_invalid_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="One-Euro needs"):
        OneEuroParams(**bad)


def test_the_exact_factor_matches_the_paper_for_short_steps() -> None:
    """1 - exp(-2 pi f dt) against the paper's 1 / (1 + 1 / (2 pi f dt)): equal to first order
    for short steps, and the paper's lags 10-20 % more at 10 fps than at 30 fps (1 Hz)."""

    def paper(f: float, dt: float) -> float:
        return 1 / (1 + 1 / (2 * math.pi * f * dt))

    assert float(smoothing_factor(1.0, 1e-4)) == pytest.approx(paper(1.0, 1e-4), rel=1e-3)

    def time_constant(alpha: float, dt: float) -> float:  # the continuous tau it amounts to
        return -dt / math.log(1 - alpha)

    taus = [time_constant(paper(1.0, dt), dt) for dt in (0.1, 1 / 30)]
    assert 1.1 < taus[0] / taus[1] < 1.2
    exact = [time_constant(float(smoothing_factor(1.0, dt)), dt) for dt in (0.1, 1 / 30)]
    assert exact[0] == pytest.approx(exact[1])
