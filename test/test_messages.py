"""The generated AffectState messages: import, defaults, sizes, CDR round trip."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import RegionOfInterest

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.msg import AffectState, AffectStateArray


def make_state(track: str, seed: int) -> AffectState:
    """A fully filled AffectState with values from a seeded generator."""
    rng = np.random.default_rng(seed)
    state = AffectState()
    state.header.frame_id = "camera_optical"
    state.header.stamp.sec, state.header.stamp.nanosec = 1700000000 + seed, 123456789
    state.track_id = track
    state.roi = RegionOfInterest(x_offset=10, y_offset=20, width=96, height=120)
    state.detection_score = 0.9375  # float32-exact, so == holds after the round trip
    state.valence, state.arousal = (float(np.float32(v)) for v in rng.uniform(-1, 1, 2))
    state.au_probabilities = rng.uniform(0, 1, len(AU_NAMES)).astype(np.float32)
    state.au_active = [bool(p > 0.5) for p in state.au_probabilities]
    state.emi_intensities = rng.uniform(0, 1, len(EMI_NAMES)).astype(np.float32)
    state.hesitancy_probability = 0.75
    state.hesitancy = True
    state.window_fill, state.window_size = 5, 8
    state.model_id = "demo-synthetic"
    return state


def test_defaults_and_array_sizes() -> None:
    state = AffectState()
    assert len(state.au_probabilities) == len(AU_NAMES) == 12
    assert len(state.au_active) == 12 and not any(state.au_active)
    assert len(state.emi_intensities) == len(EMI_NAMES) == 6
    assert state.track_id == "" and state.model_id == ""
    assert state.valence == 0.0 and state.hesitancy is False
    assert (state.window_fill, state.window_size) == (0, 0)
    assert list(AffectStateArray().faces) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("au_probabilities", [0.0] * 11),  # AU array is fixed at 12
        ("emi_intensities", [0.0] * 7),  # EMI array is fixed at 6
        ("au_active", [True] * 13),  # decisions are fixed at 12
    ],
)
def test_fixed_arrays_reject_wrong_length(field: str, value: list) -> None:
    # rosidl checks field values only when asked (check_fields or ROS_PYTHON_CHECK_FIELDS=1)
    with pytest.raises(AssertionError):
        setattr(AffectState(check_fields=True), field, value)


def test_serialize_round_trip() -> None:
    array = AffectStateArray()
    array.header.frame_id = "camera_optical"
    array.faces = [make_state("f0001", 1), make_state("f0002", 2)]
    data = serialize_message(array)
    back = deserialize_message(data, AffectStateArray)
    assert back == array
    assert back.faces[1].track_id == "f0002"
    np.testing.assert_allclose(back.faces[0].au_probabilities, array.faces[0].au_probabilities)
    assert back.faces[0].roi.height == 120
