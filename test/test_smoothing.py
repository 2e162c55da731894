"""Per-track output smoothing: the EMA by hand, track independence, removal, the protocol."""

from __future__ import annotations

import numpy as np
import pytest

from affect_perception.runtime.smoothing import EmaSmoother, OutputSmoother, TrackFilter


def outputs(*va: tuple[float, float]) -> dict[str, np.ndarray]:
    """VA rows plus a one-column output, float32 like the engine's."""
    rows = np.array(va, dtype=np.float32).reshape(-1, 2)
    return {"va": rows, "ah": rows[:, :1] * 2}


def test_ema_by_hand() -> None:
    ema = EmaSmoother(alpha=0.25)
    first = ema(["a"], outputs((1.0, -1.0)), stamp=0.0)
    assert first["va"].tolist() == [[1.0, -1.0]]  # first frame passes through
    second = ema(["a"], outputs((0.0, 1.0)), stamp=0.1)
    np.testing.assert_allclose(second["va"], [[0.75, -0.5]])  # 0.25 * x + 0.75 * y
    third = ema(["a"], outputs((0.0, 1.0)), stamp=0.2)
    np.testing.assert_allclose(third["va"], [[0.5625, -0.125]])
    np.testing.assert_allclose(third["ah"], [[1.125]])
    assert third["va"].dtype == np.float32 and third["ah"].shape == (1, 1)


def test_tracks_are_smoothed_independently_in_any_order() -> None:
    ema = EmaSmoother(alpha=0.5)
    ema(["a", "b"], outputs((0.0, 0.0), (10.0, 10.0)), stamp=0.0)
    got = ema(["b", "a"], outputs((20.0, 20.0), (2.0, 2.0)), stamp=0.1)
    np.testing.assert_allclose(got["va"], [[15.0, 15.0], [1.0, 1.0]])
    assert len(ema) == 2


def test_removed_track_starts_again_and_reset_forgets_all() -> None:
    ema = EmaSmoother(alpha=0.5)
    ema(["a", "b"], outputs((0.0, 0.0), (4.0, 4.0)), stamp=0.0)
    ema.remove(["a", "never-seen"])
    got = ema(["a", "b"], outputs((8.0, 8.0), (8.0, 8.0)), stamp=0.1)
    np.testing.assert_allclose(got["va"], [[8.0, 8.0], [6.0, 6.0]])
    ema.reset()
    assert len(ema) == 0


def test_alpha_one_is_identity_and_empty_frames_pass() -> None:
    ema = EmaSmoother(alpha=1.0)
    for value in (3.0, -2.0, 7.5):
        assert ema(["a"], outputs((value, value)), stamp=0.0)["va"].tolist() == [[value] * 2]
    assert ema([], outputs(), stamp=0.0)["va"].shape == (0, 2)


class HoldFor(TrackFilter):
    """A toy stamp-aware filter: keeps a value for `hold` seconds (shows a second filter fits)."""

    def __init__(self, hold: float) -> None:
        super().__init__()
        self.hold = hold

    def step(
        self, state: tuple | None, value: np.ndarray, stamp: float
    ) -> tuple[tuple, np.ndarray]:
        if state is None or stamp - state[0] >= self.hold:
            state = (stamp, np.array(value))
        return state, state[1]


def test_a_second_filter_type_fits_the_protocol() -> None:
    hold = HoldFor(hold=1.0)
    assert isinstance(hold, OutputSmoother) and isinstance(EmaSmoother(0.5), OutputSmoother)
    seen = [
        hold(["a"], outputs((v, v)), stamp)["va"][0, 0]
        for v, stamp in [(1, 0.0), (2, 0.5), (3, 1.0), (4, 1.5)]
    ]
    assert seen == [1, 1, 3, 3]


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5])
def test_alpha_out_of_range_raises(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        EmaSmoother(alpha)


def test_row_count_must_match_tracks() -> None:
    with pytest.raises(ValueError, match="2 rows for 1 tracks"):
        EmaSmoother(0.5)(["a"], outputs((1, 1), (2, 2)), stamp=0.0)
