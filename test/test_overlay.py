"""The overlay draws each face's state where the face is, never changes its input, and copes
with faces at the border, missing values and frames of any size."""

from __future__ import annotations

import numpy as np
import pytest
from frame_results import make_result

from affect_perception.visualize.overlay import (
    COLD,
    HESITANT,
    UNRELIABLE,
    WARM,
    contact_sheet,
    draw_overlay,
)

GREY = 90


def frame(width: int = 320, height: int = 240) -> np.ndarray:
    return np.full((height, width, 3), GREY, np.uint8)


def box_edge_colours(image: np.ndarray, box: tuple[int, int, int, int]) -> set[tuple[int, ...]]:
    """Colours along the left edge of a box (away from the labels)."""
    x1, y1, _, y2 = box
    return {tuple(int(v) for v in px) for px in image[y1 + 20 : y2 - 20, x1]}


@pytest.mark.parametrize(
    ("fill", "hesitant", "colour"),
    [
        (8, False, WARM),  # full window
        (3, False, COLD),  # window still filling
        (8, True, HESITANT),  # hesitant wins over warm
    ],
)
def test_box_colour_shows_the_face_state(fill: int, hesitant: bool, colour: tuple) -> None:
    box = (60, 50, 160, 170)
    image = draw_overlay(frame(), make_result([box], fill=[fill], hesitant=[hesitant]))
    assert box_edge_colours(image, box) == {colour}


def test_a_warm_face_below_the_quality_thresholds_is_grey() -> None:
    box = (60, 50, 160, 170)
    result = make_result([box])
    result.faces.data["reliable"] = np.array([False])
    assert box_edge_colours(draw_overlay(frame(), result), box) == {UNRELIABLE}
    result.faces.data["reliable"] = np.array([True])
    assert box_edge_colours(draw_overlay(frame(), result), box) == {WARM}


def test_input_is_untouched_and_drawing_stays_near_the_face() -> None:
    source = frame()
    before = source.copy()
    image = draw_overlay(source, make_result([(60, 50, 160, 150)]))
    np.testing.assert_array_equal(source, before)
    assert image.shape == source.shape and image.dtype == np.uint8
    changed = np.any(image != GREY, axis=2)
    assert changed[50:150, 60].all()  # the box
    assert changed[150:235, 60:300].any()  # bars and AU names below it
    assert not changed[60:140, 200:320].any()  # nothing far right of the face


def test_read_only_input_is_accepted() -> None:
    source = frame()
    source.flags.writeable = False
    assert draw_overlay(source, make_result([(10, 10, 90, 90)])).flags.writeable


def test_text_lists_the_active_action_units_and_hesitancy() -> None:
    quiet = make_result([(60, 40, 160, 120)])
    quiet.faces.data["au_active"][:] = False
    loud = make_result([(60, 40, 160, 120)], hesitant=[True])
    drawn = [
        np.any(draw_overlay(frame(), r) != GREY, axis=2)[150:240].sum() for r in (quiet, loud)
    ]
    assert drawn[1] > drawn[0]  # AU names and the HESITANT line add text below the bars


@pytest.mark.parametrize(
    "box",
    [
        (-40, -30, 60, 80),  # over the top-left corner
        (280, 200, 400, 330),  # over the bottom-right corner
        (500, 400, 600, 500),  # entirely outside
    ],
)
def test_faces_at_or_beyond_the_border_are_drawn_without_error(box: tuple) -> None:
    image = draw_overlay(frame(), make_result([box]))
    assert image.shape == (240, 320, 3)


def test_missing_values_are_shown_as_unavailable() -> None:
    result = make_result([(60, 50, 160, 150)])
    result.faces.data["valence"][:] = np.nan
    image = draw_overlay(frame(), result)
    assert np.any(image != GREY)


@pytest.mark.parametrize("size", [(64, 48), (320, 240), (1920, 1080)])
def test_any_frame_size_and_no_face(size: tuple[int, int]) -> None:
    image = draw_overlay(frame(*size), make_result([], size=size))
    assert image.shape == (size[1], size[0], 3)
    assert np.any(image != GREY)  # the banner with the model id


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((240, 320), np.uint8),  # grey
        np.zeros((240, 320, 4), np.uint8),  # RGBA
        np.zeros((240, 320, 3), np.float32),  # float
    ],
)
def test_non_rgb_frames_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        draw_overlay(bad, make_result([]))


@pytest.mark.parametrize(
    ("count", "columns", "shape"),
    [
        (1, 4, (120, 640, 3)),
        (4, 4, (120, 640, 3)),
        (5, 4, (240, 640, 3)),  # a second row, three black tiles
        (6, 2, (360, 320, 3)),
    ],
)
def test_contact_sheet_layout(count: int, columns: int, shape: tuple) -> None:
    frames = [np.full((240, 320, 3), 10 * (k + 1), np.uint8) for k in range(count)]
    sheet = contact_sheet(frames, columns=columns, tile_width=160)
    assert sheet.shape == shape
    assert sheet[60, 80, 0] == 10  # the first frame, top left
    if count % columns:
        assert not sheet[-60, -80].any()  # an empty tile is black


@pytest.mark.parametrize(("frames", "columns"), [([], 4), ([frame()], 0)])
def test_contact_sheet_refuses_nothing_to_show(frames: list, columns: int) -> None:
    with pytest.raises(ValueError, match="contact_sheet needs"):
        contact_sheet(frames, columns=columns)
