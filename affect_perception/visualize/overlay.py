"""What the pipeline saw, drawn on the frame: boxes, ids, valence/arousal bars, active AUs and
hesitancy, plus a contact sheet of several frames. OpenCV and numpy only, no ROS.

Box colours: green for a warm, reliable estimate (full window, quality thresholds met), grey
for a warm one that misses a quality threshold (the label says ``low quality``), amber while the
window fills (the label shows ``fill/size``), red when the face is hesitant.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from affect_perception.frame_result import FrameResult
from affect_perception.labels import AU_NAMES

# RGB colours of the box states, the bars and the text background.
WARM = (40, 200, 60)
COLD = (255, 170, 0)
UNRELIABLE = (150, 150, 150)
HESITANT = (230, 40, 40)
BAR_BACK = (70, 70, 70)
PANEL = (25, 25, 25)
BAR_POSITIVE = (80, 170, 255)
BAR_NEGATIVE = (255, 110, 80)
TEXT = (255, 255, 255)
# Text scale per pixel of the frame's shorter side, and its floor (OpenCV Hershey units).
TEXT_SCALE_PER_PX = 1 / 1000
MIN_TEXT_SCALE = 0.35
# Width of a valence/arousal bar in text lines, and active AU names per line.
BAR_LINES = 4
AUS_PER_LINE = 3
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_overlay(rgb: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 RGB frame with every face of ``result`` drawn on it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"draw_overlay needs an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}"
        )
    image = np.array(rgb, copy=True, order="C")
    scale = max(MIN_TEXT_SCALE, min(image.shape[:2]) * TEXT_SCALE_PER_PX)
    warm, reliable = result.warm, result.face_values("reliable")
    for i in range(len(result.faces)):
        _draw_face(image, result, i, bool(warm[i]), bool(reliable[i]), scale)
    faces = len(result.faces)
    _text_box(image, f"{faces} face{'s' * (faces != 1)}", (0, 0), scale, PANEL)
    return image


def _draw_face(
    image: np.ndarray, result: FrameResult, i: int, warm: bool, reliable: bool, scale: float
) -> None:
    """Box and id label, then a panel under the box: V and A bars, active AUs, hesitancy."""
    data = result.faces.data
    hesitant = bool(data["ah"][i])
    colour = HESITANT if hesitant else COLD if not warm else WARM if reliable else UNRELIABLE
    x1, y1, x2, y2 = (int(round(v)) for v in result.faces.xyxy[i])
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, max(1, round(scale / MIN_TEXT_SCALE)))
    title = str(result.faces.track_id[i])
    if not warm:
        title += f" {int(data['window_fill'][i])}/{result.window_size}"
    elif not reliable:
        title += " low quality"
    _text_box(image, title, (x1, y1 - _line_height(scale)), scale, colour)
    rows: list[tuple[str, float | None, tuple[int, int, int]]] = [
        (f"V {float(data['valence'][i]):+.2f}", float(data["valence"][i]), TEXT),
        (f"A {float(data['arousal'][i]):+.2f}", float(data["arousal"][i]), TEXT),
    ]
    active = [name for name, on in zip(AU_NAMES, data["au_active"][i], strict=True) if on]
    rows += [
        (" ".join(active[k : k + AUS_PER_LINE]), None, TEXT)
        for k in range(0, len(active), AUS_PER_LINE)
    ]
    if hesitant:
        rows.append((f"HESITANT {float(data['ah_prob'][i]):.2f}", None, HESITANT))
    _panel(image, rows, (x1, y2 + 2), scale)


def _line_height(scale: float) -> int:
    (_, height), base = cv2.getTextSize("Ag", FONT, scale, 1)
    return height + base + 4


def _text_box(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    scale: float,
    background: tuple[int, int, int],
) -> None:
    """Text on a filled box whose top-left corner is ``origin``, kept inside the image."""
    (width, _), _ = cv2.getTextSize(text, FONT, scale, 1)
    line = _line_height(scale)
    x = int(np.clip(origin[0], 0, max(image.shape[1] - width - 4, 0)))
    y = int(np.clip(origin[1], 0, max(image.shape[0] - line, 0)))
    cv2.rectangle(image, (x, y), (x + width + 4, y + line), background, -1)
    cv2.putText(
        image, text, (x + 2, y + line - 4 - _baseline(scale)), FONT, scale, TEXT, 1, cv2.LINE_AA
    )


def _baseline(scale: float) -> int:
    return cv2.getTextSize("Ag", FONT, scale, 1)[1]


def _panel(
    image: np.ndarray,
    rows: list[tuple[str, float | None, tuple[int, int, int]]],
    origin: tuple[int, int],
    scale: float,
) -> None:
    """Rows of text on a dark panel kept inside the image; a row with a value in [-1, 1]
    also gets a bar centred on zero (NaN: no bar, the text says n/a)."""
    line = _line_height(scale)
    bar_width = BAR_LINES * line
    label_width = cv2.getTextSize("V +0.00", FONT, scale, 1)[0][0]
    widths = [cv2.getTextSize(text, FONT, scale, 1)[0][0] for text, _, _ in rows]
    width = max([label_width + bar_width + 6, *widths]) + 6
    height = line * len(rows) + 2
    x = int(np.clip(origin[0], 0, max(image.shape[1] - width, 0)))
    y = int(np.clip(origin[1], 0, max(image.shape[0] - height, 0)))
    cv2.rectangle(image, (x, y), (x + width, y + height), PANEL, -1)
    for k, (text, value, colour) in enumerate(rows):
        top = y + k * line
        if value is not None and not math.isfinite(value):
            text = text[0] + " n/a"
        cv2.putText(
            image,
            text,
            (x + 3, top + line - 3 - _baseline(scale)),
            FONT,
            scale,
            colour,
            1,
            cv2.LINE_AA,
        )
        if value is not None and math.isfinite(value):
            _bar(image, value, (x + label_width + 7, top + line // 4), bar_width, line // 2)


def _bar(
    image: np.ndarray, value: float, origin: tuple[int, int], width: int, height: int
) -> None:
    """A bar for a value in [-1, 1] growing left or right from the centre."""
    x, y = origin
    cv2.rectangle(image, (x, y), (x + width, y + height), BAR_BACK, -1)
    centre = x + width // 2
    end = centre + int(round(np.clip(value, -1, 1) * width / 2))
    colour = BAR_POSITIVE if value >= 0 else BAR_NEGATIVE
    cv2.rectangle(image, (min(centre, end), y), (max(centre, end), y + height), colour, -1)
    cv2.line(image, (centre, y - 1), (centre, y + height + 1), TEXT, 1)


def contact_sheet(frames: list[np.ndarray], columns: int = 4, tile_width: int = 320) -> np.ndarray:
    """The frames side by side, ``columns`` per row, each resized to ``tile_width`` pixels wide
    (height by the first frame's aspect ratio); empty tiles are black."""
    if not frames or columns < 1 or tile_width < 1:
        raise ValueError(
            f"contact_sheet needs frames, columns >= 1 and tile_width >= 1; got "
            f"{len(frames)} frames, columns={columns}, tile_width={tile_width}"
        )
    height, width = frames[0].shape[:2]
    tile_height = max(1, round(tile_width * height / width))
    rows = math.ceil(len(frames) / columns)
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for k, frame in enumerate(frames):
        r, c = divmod(k, columns)
        tile = cv2.resize(frame, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        sheet[r * tile_height : (r + 1) * tile_height, c * tile_width : (c + 1) * tile_width] = (
            tile
        )
    return sheet
