"""ABAW metrics against reference formulas and scipy, and every documented edge case."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from affect_perception.evaluation import metrics
from affect_perception.labels import AU_NAMES, EMI_NAMES

RNG_SEED = 7


def reference_ccc(x: np.ndarray, y: np.ndarray) -> float:
    """CCC written as 2 rho sx sy / (sx^2 + sy^2 + (mx - my)^2), rho from scipy."""
    rho = pearsonr(x, y).statistic
    sx, sy = np.std(x), np.std(y)
    return 2 * rho * sx * sy / (sx**2 + sy**2 + (x.mean() - y.mean()) ** 2)


def reference_f1(pred: np.ndarray, label: np.ndarray) -> float:
    """F1 as the harmonic mean of precision and recall, counted in a loop."""
    tp = sum(1 for p, t in zip(pred, label, strict=True) if p and t)
    fp = sum(1 for p, t in zip(pred, label, strict=True) if p and not t)
    fn = sum(1 for p, t in zip(pred, label, strict=True) if not p and t)
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def test_ccc_and_pearson_match_references(rng: np.random.Generator) -> None:
    for _ in range(20):
        x = rng.normal(size=200)
        y = 0.6 * x + rng.normal(scale=0.5, size=200) + rng.uniform(-0.3, 0.3)
        assert metrics.ccc(x, y) == pytest.approx(reference_ccc(x, y), abs=1e-6)
        assert metrics.pearson(x, y) == pytest.approx(pearsonr(x, y).statistic, abs=1e-6)


@pytest.mark.parametrize(
    ("pred", "label", "want_ccc", "want_r"),
    [
        ([0.3, 0.3, 0.3, 0.3], [0.1, 0.5, -0.2, 0.9], 0.0, 0.0),  # constant prediction
        ([0.1, 0.5, -0.2, 0.9], [0.2, 0.2, 0.2, 0.2], 0.0, 0.0),  # constant label
        ([0.2, 0.2, 0.2], [0.2, 0.2, 0.2], 1.0, 0.0),  # both constant and equal
        ([0.1, 0.1], [0.4, 0.4], 0.0, 0.0),  # both constant, offset
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1.0, 1.0),  # identical
        ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], -1.0, -1.0),  # reversed
        ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], 4 / 7, 1.0),  # shifted: CCC punishes the bias
    ],
)
def test_degenerate_correlations_are_finite(
    pred: list, label: list, want_ccc: float, want_r: float
) -> None:
    assert metrics.ccc(np.array(pred), np.array(label)) == pytest.approx(want_ccc, abs=1e-12)
    assert metrics.pearson(np.array(pred), np.array(label)) == pytest.approx(want_r, abs=1e-12)


@pytest.mark.parametrize(
    ("pred", "label", "want"),
    [
        ([1, 0, 1, 1], [1, 0, 0, 1], 0.8),  # tp 2, fp 1, fn 0
        ([0.9, 0.49, 0.5, 0.1], [1, 1, 1, 0], 0.8),  # probabilities at 0.5, 0.5 counts
        ([0, 0, 0], [0, 0, 0], 0.0),  # never occurs, never predicted: zero_division=0
        ([1, 1, 0], [0, 0, 0], 0.0),  # only false positives
        ([0, 0, 0], [1, 0, 1], 0.0),  # only misses
        ([1, 0, 1], [1, 0, 1], 1.0),
    ],
)
def test_f1_binary_table(pred: list, label: list, want: float) -> None:
    assert metrics.f1_binary(np.array(pred), np.array(label)) == pytest.approx(want)


def test_f1_matches_reference_on_random_data(rng: np.random.Generator) -> None:
    for _ in range(20):
        label = rng.integers(0, 2, 300)
        prob = rng.uniform(size=300)
        want = reference_f1(prob >= 0.5, label == 1)
        assert metrics.f1_binary(prob, label) == pytest.approx(want, abs=1e-6)


def test_va_ccc_leaves_out_rows_with_a_missing_label(rng: np.random.Generator) -> None:
    label = rng.uniform(-1, 1, (100, 2))
    pred = label + rng.normal(scale=0.3, size=(100, 2))
    label[::7, 0] = -5.0  # valence missing only: the whole row goes
    label[3::11] = -5.0
    keep = (label != -5.0).all(axis=1)
    got = metrics.va_ccc(pred, label)
    want_v = reference_ccc(pred[keep, 0], label[keep, 0])
    want_a = reference_ccc(pred[keep, 1], label[keep, 1])
    assert got["valence_ccc"] == pytest.approx(want_v, abs=1e-6)
    assert got["arousal_ccc"] == pytest.approx(want_a, abs=1e-6)
    assert got["va_ccc"] == pytest.approx((want_v + want_a) / 2, abs=1e-6)


def test_au_f1_scores_each_au_over_its_own_frames(rng: np.random.Generator) -> None:
    label = rng.integers(0, 2, (80, 12))
    prob = rng.uniform(size=(80, 12))
    label[:10] = -1  # whole frames missing
    label[20:40, 3] = -1  # one AU missing on more frames
    label[10:, 5] = 0  # AU10 never occurs ...
    prob[:, 5] = 0.2  # ... and is never predicted: 0.0
    got = metrics.au_f1(prob, label)
    for i, name in enumerate(AU_NAMES):
        rows = label[:, i] != -1
        want = reference_f1(prob[rows, i] >= 0.5, label[rows, i] == 1)
        assert got["au_f1"][name] == pytest.approx(want, abs=1e-6)
    assert got["au_f1"]["AU10"] == 0.0
    assert got["au_f1_mean"] == pytest.approx(np.mean(list(got["au_f1"].values())))


def test_emi_pearson_matches_scipy(rng: np.random.Generator) -> None:
    label = rng.uniform(size=(30, 6))
    pred = label + rng.normal(scale=0.2, size=(30, 6))
    pred[:, 2] = 0.5  # a constant dimension scores 0.0
    got = metrics.emi_pearson(pred, label)
    for i, name in enumerate(EMI_NAMES):
        want = 0.0 if i == 2 else pearsonr(pred[:, i], label[:, i]).statistic
        assert got["emi_pearson"][name] == pytest.approx(want, abs=1e-6)
    assert got["emi_pearson_mean"] == pytest.approx(np.mean(list(got["emi_pearson"].values())))


@pytest.mark.parametrize(
    ("prob", "label", "macro", "positive", "weighted"),
    [
        # present: tp 1, fp 1, fn 0 -> 2/3; absent: tp 2, fp 0, fn 1 -> 4/5; support 1 and 3
        ([0.9, 0.8, 0.2, 0.1], [1, 0, 0, 0], (2 / 3 + 4 / 5) / 2, 2 / 3, (2 / 3 + 3 * 4 / 5) / 4),
        # no hesitancy anywhere, none predicted: only the absent class occurs, F1 1
        ([0.1, 0.2], [0, 0], 1.0, 0.0, 1.0),
        # hesitant throughout and predicted so: only the present class occurs
        ([0.9, 0.7], [1, 1], 1.0, 1.0, 1.0),
        # every frame wrong: both classes 0
        ([0.9, 0.1], [0, 1], 0.0, 0.0, 0.0),
        # one false alarm on a calm clip: present F1 0 (tp 0, fp 1), absent 4/5 (tp 2, fn 1)
        ([0.9, 0.1, 0.1], [0, 0, 0], 0.4, 0.0, 0.8),
        # a probability of exactly 0.5 counts as hesitant: present 1, absent 1
        ([0.5, 0.49], [1, 0], 1.0, 1.0, 1.0),
    ],
)
def test_ah_f1_macro_positive_weighted(
    prob: list[float], label: list[int], macro: float, positive: float, weighted: float
) -> None:
    got = metrics.ah_f1(np.array(prob)[:, None], np.array(label)[:, None])
    assert got == pytest.approx(
        {"ah_f1": macro, "ah_f1_positive": positive, "ah_f1_weighted": weighted}
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.va_ccc(np.zeros((3, 2)), np.full((3, 2), -5.0)), r"labels \(-5\)"),
        (lambda: metrics.au_f1(np.zeros((3, 12)), np.full((3, 12), -1)), r"labels \(-1\)"),
        (lambda: metrics.ccc(np.zeros(0), np.zeros(0)), "empty"),
        (lambda: metrics.ccc(np.zeros(3), np.zeros(4)), "shape"),
        (lambda: metrics.va_ccc(np.zeros((3, 3)), np.zeros((3, 3))), r"\(n, 2\)"),
        (lambda: metrics.pearson(np.array([np.nan, 1.0]), np.ones(2)), "NaN"),
        (lambda: metrics.f1_binary(np.ones(2), np.array([1, 2])), "0 or 1"),
    ],
)
def test_bad_input_raises_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_results_are_python_floats() -> None:
    got = metrics.va_ccc(np.eye(2), np.eye(2))
    assert all(type(v) is float for v in got.values())
