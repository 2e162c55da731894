"""FeatureWindows: order after wrap-around, fill and warm rules, gaps, eviction, fixed memory."""

from __future__ import annotations

import numpy as np
import pytest

from affect_perception.runtime.windows import FeatureWindows

# Two features of different shapes; every value of a frame equals its frame number.
SHAPES = {"feat_14": (3, 2, 2), "feat_7": (5,)}


def frame(*values: float) -> dict[str, np.ndarray]:
    """Features for len(values) tracks, each filled with its value."""
    v = np.array(values, dtype=np.float32)
    return {
        k: np.broadcast_to(v.reshape(-1, *[1] * len(s)), (len(v), *s)).copy()
        for k, s in SHAPES.items()
    }


def frames_of(windows: FeatureWindows, track: str) -> list[float]:
    """The frame numbers in a track's gathered window, checking all features agree."""
    got = windows.gather([track])
    per_feature = [g[0].reshape(windows.window, -1) for g in got.values()]
    for values in per_feature:
        assert (values == values[:, :1]).all()
    assert all(np.array_equal(per_feature[0][:, 0], v[:, 0]) for v in per_feature)
    return per_feature[0][:, 0].tolist()


def make(window: int = 4, max_tracks: int = 3, max_gap: int = 2) -> FeatureWindows:
    return FeatureWindows(
        window=window, feature_shapes=SHAPES, max_tracks=max_tracks, max_gap=max_gap
    )


def test_order_is_oldest_first_after_wrap_around() -> None:
    windows = make(window=4)
    for f in range(1, 11):
        windows.push(["a"], frame(f))
    assert frames_of(windows, "a") == [7, 8, 9, 10]
    out = windows.gather(["a"])
    assert all(v.flags["C_CONTIGUOUS"] and v.dtype == np.float32 for v in out.values())
    assert out["feat_14"].shape == (1, 4, 3, 2, 2) and out["feat_7"].shape == (1, 4, 5)


def test_cold_window_is_left_padded_with_its_oldest_frame() -> None:
    windows = make(window=4)
    windows.push(["a", "b"], frame(1, 100))
    windows.push(["a"], frame(2))
    assert frames_of(windows, "a") == [1, 1, 1, 2]
    assert frames_of(windows, "b") == [100, 100, 100, 100]
    assert windows.fill(["a", "b", "nobody"]).tolist() == [2, 1, 0]
    assert windows.warm(["a", "b"]).tolist() == [False, False]
    windows.push(["a"], frame(3))
    windows.push(["a"], frame(4))
    assert windows.warm(["a"]).tolist() == [True] and windows.fill(["a"]).tolist() == [4]


def test_gaps_repeat_the_last_frame_then_restart() -> None:
    windows = make(window=5, max_gap=2)
    for f in (1, 2, 3):
        windows.push(["a"], frame(f))
    windows.mark_missed(["a"])
    windows.mark_missed(["a"])
    assert frames_of(windows, "a") == [1, 2, 3, 3, 3]
    assert windows.fill(["a"]).tolist() == [5] and windows.real_fill(["a"]).tolist() == [3]
    windows.mark_missed(["a"])  # third miss in a row: past max_gap
    assert windows.fill(["a"]).tolist() == [0] and windows.real_fill(["a"]).tolist() == [0]
    assert "a" in windows  # the track keeps its slot
    with pytest.raises(ValueError, match="push their features first"):
        windows.gather(["a"])
    windows.mark_missed(["a", "unknown"])  # empty or unknown windows: nothing to repeat
    windows.push(["a"], frame(9))
    assert frames_of(windows, "a") == [9] * 5 and windows.fill(["a"]).tolist() == [1]


def test_a_push_ends_the_gap_count() -> None:
    windows = make(window=6, max_gap=1)
    windows.push(["a"], frame(1))
    windows.mark_missed(["a"])
    windows.push(["a"], frame(2))
    windows.mark_missed(["a"])  # one miss in a row again: still bridged
    assert frames_of(windows, "a") == [1, 1, 1, 1, 2, 2]
    assert windows.real_fill(["a"]).tolist() == [2]


def test_repeated_frames_leave_the_window_as_it_wraps() -> None:
    windows = make(window=3, max_gap=1)
    windows.push(["a"], frame(1))
    windows.mark_missed(["a"])
    for f in (2, 3, 4):
        windows.push(["a"], frame(f))
    assert frames_of(windows, "a") == [2, 3, 4] and windows.real_fill(["a"]).tolist() == [3]


def test_full_pool_evicts_the_stalest_track() -> None:
    windows = make(max_tracks=2)
    windows.push(["a", "b"], frame(1, 2))
    windows.push(["a"], frame(3))
    windows.mark_missed(["b"])  # repeated frames do not make b fresher
    windows.push(["a", "c"], frame(4, 5))
    assert windows.evicted == ["b"]
    assert windows.track_ids == ["a", "c"] and windows.fill(["b"]).tolist() == [0]
    assert frames_of(windows, "c") == [5] * 4  # the slot starts clean
    windows.remove(["a"])
    windows.push(["d"], frame(6))
    assert windows.evicted == [] and sorted(windows.track_ids) == ["c", "d"]


def test_pool_memory_is_fixed_over_10000_appear_vanish_cycles() -> None:
    windows = make(window=8, max_tracks=4, max_gap=3)
    before = windows.nbytes
    rng = np.random.default_rng(0)
    features = [frame(*range(n)) for n in range(5)]
    for cycle in range(10_000):
        new = f"t{cycle}"
        seen = [new] + [t for t in windows.track_ids if rng.random() < 0.5][:3]
        windows.mark_missed([t for t in windows.track_ids if t not in seen])
        windows.push(seen, features[len(seen)])
        if cycle % 7 == 0:
            windows.remove(windows.track_ids[:1])
        assert len(windows) <= 4
    assert windows.nbytes == before
    # pool, output and each track's last entry; bookkeeping
    assert before == (2 * 4 * 8 + 4) * (12 + 5) * 4 + 4 * 8 * 4 + 4 * 8


def test_empty_frame_push_and_gather() -> None:
    windows = make()
    windows.push([], frame())
    assert {k: v.shape for k, v in windows.gather([]).items()} == {
        "feat_14": (0, 4, 3, 2, 2),
        "feat_7": (0, 4, 5),
    }


@pytest.mark.parametrize(
    ("ids", "features", "message"),
    [
        (["a", "a"], frame(1, 2), "distinct"),
        (["a", "b", "c", "d"], frame(1, 2, 3, 4), "raise max_tracks"),
        (["a"], {"feat_7": np.zeros((1, 5))}, "features must be"),
        (
            ["a"],
            {"feat_7": np.zeros((1, 4)), "feat_14": np.zeros((1, 3, 2, 2))},
            r"features\['feat_7'\] must be \(1, 5\)",
        ),
    ],
)
def test_bad_push_raises(ids: list[str], features: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(max_tracks=3).push(ids, features)


def test_bad_construction_raises() -> None:
    with pytest.raises(ValueError, match="window >= 1"):
        FeatureWindows(window=0, feature_shapes=SHAPES, max_tracks=1, max_gap=0)


def summed_tokens(entries: np.ndarray, time_patch: int) -> np.ndarray:
    """Tokens of whole windows of partial embeddings, as the unfolded 3D patch embedding
    computes them: (n, W, T·d, ...) -> (n, W/T, d, ...), token t summing slice k of frame
    t·T + k."""
    n, window, channels = entries.shape[:3]
    parts = entries.reshape(n, window // time_patch, time_patch, time_patch, -1)
    offsets = np.arange(time_patch)
    summed = parts[:, :, offsets, offsets].sum(axis=2)
    return summed.reshape(n, window // time_patch, channels // time_patch, *entries.shape[3:])


@pytest.mark.parametrize("time_patch", [2, 4])
def test_token_windows_equal_the_embedding_of_the_padded_frame_windows(time_patch: int) -> None:
    """Pushes, gaps bridged and overrun, evictions and removals, on four tracks in a pool of
    three: the token windows hold what summing the frame windows' slices gives."""
    shapes = {"feat_7": (time_patch * 3, 2, 2), "feat_1": (time_patch * 5,)}
    tokens, frames = (
        FeatureWindows(8, shapes, max_tracks=3, max_gap=2, dtype=np.float64, time_patch=t)
        for t in (time_patch, 1)
    )
    rng = np.random.default_rng(time_patch)
    tracks = ["a", "b", "c", "d"]
    for step in range(300):
        shown = [t for t in tracks if rng.random() < 0.6][:3]
        entries = {k: rng.standard_normal((len(shown), *s)) for k, s in shapes.items()}
        for windows in (tokens, frames):
            windows.mark_missed([t for t in windows.track_ids if t not in shown])
            windows.push(shown, entries)
            if step % 37 == 0:
                windows.remove(windows.track_ids[-1:])
        assert tokens.track_ids == frames.track_ids
        held = [t for t in tokens.track_ids if tokens.fill([t])[0]]
        assert tokens.fill(held).tolist() == frames.fill(held).tolist()
        got, want = tokens.gather(held), frames.gather(held)
        for name in shapes:
            token = (shapes[name][0] // time_patch, *shapes[name][1:])
            assert got[name].shape == (len(held), 8 // time_patch, *token)
            np.testing.assert_allclose(got[name], summed_tokens(want[name], time_patch), atol=1e-9)


def test_a_time_patch_must_divide_the_window_and_the_entries() -> None:
    with pytest.raises(ValueError, match="time patch dividing"):
        FeatureWindows(6, {"f": (8,)}, max_tracks=1, max_gap=0, time_patch=4)
    with pytest.raises(ValueError, match="time patch dividing"):
        FeatureWindows(8, {"f": (6,)}, max_tracks=1, max_gap=0, time_patch=4)
