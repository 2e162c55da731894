"""What the pipeline saw, drawn on the frame: boxes, ids, valence/arousal bars, active AUs and
hesitancy, plus a contact sheet of several frames. OpenCV and numpy only, no ROS.

Box colours: green for a warm window (the estimate uses a full window), amber while the
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
HESITANT = (230, 40, 40)
BAR_BACK = (60, 60, 60)
BAR_POSITIVE = (80, 170, 255)
BAR_NEGATIVE = (255, 110, 80)
TEXT = (255, 255, 255)
SHADOW = (0, 0, 0)
# Text scale per pixel of the frame's shorter side, and its floor (OpenCV Hershey units).
TEXT_SCALE_PER_PX = 1 / 700
MIN_TEXT_SCALE = 0.35
# Height of a valence/arousal bar in text heights, and the narrowest bar in pixels.
BAR_HEIGHT = 0.6
MIN_BAR_WIDTH = 60
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_overlay(rgb: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 RGB frame with every face of ``result`` drawn on it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"draw_overlay needs an (H, W, 3) uint8 RGB frame, got {rgb.shape} "
                         f"{rgb.dtype}")
    image = np.array(rgb, copy=True, order="C")
    scale = max(MIN_TEXT_SCALE, min(image.shape[:2]) * TEXT_SCALE_PER_PX)
    warm = result.warm
    for i in range(len(result.faces)):
        _draw_face(image, result, i, bool(warm[i]), scale)
    _label(image, f"{result.model_id}  {len(result.faces)} faces", (4, 4), scale, SHADOW)
    return image


def _draw_face(image: np.ndarray, result: FrameResult, i: int, warm: bool, scale: float
               ) -> None:
    data = result.faces.data
    hesitant = bool(data["ah"][i])
    colour = HESITANT if hesitant else WARM if warm else COLD
    x1, y1, x2, y2 = (int(round(v)) for v in result.faces.xyxy[i])
    thickness = max(1, round(scale / MIN_TEXT_SCALE))
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness)
    fill = int(data["window_fill"][i])
    title = str(result.faces.track_id[i])
    if not warm:
        title += f" {fill}/{result.window_size}"
    line = _text_height(scale) + 4
    _label(image, title, (x1, y1 - line), scale, colour)
    width = max(x2 - x1, MIN_BAR_WIDTH)
    y = y2 + 3
    for name, value in (("V", data["valence"][i]), ("A", data["arousal"][i])):
        _bar(image, name, float(value), (x1, y), width, scale)
        y += line
    active = [name for name, on in zip(AU_NAMES, data["au_active"][i], strict=True) if on]
    if active:
        _label(image, " ".join(active), (x1, y), scale, SHADOW)
        y += line
    if hesitant:
        _label(image, f"HESITANT {float(data['ah_prob'][i]):.2f}", (x1, y), scale, HESITANT)


def _text_height(scale: float) -> int:
    return cv2.getTextSize("Ag", FONT, scale, 1)[0][1] + 2


def _label(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
           background: tuple[int, int, int]) -> None:
    """Text on a filled box whose top-left corner is ``origin``, kept inside the image."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    height, width = image.shape[:2]
    x = int(np.clip(origin[0], 0, max(width - w - 4, 0)))
    y = int(np.clip(origin[1], 0, max(height - h - base - 4, 0)))
    cv2.rectangle(image, (x, y), (x + w + 4, y + h + base + 4), background, -1)
    cv2.putText(image, text, (x + 2, y + h + 2), FONT, scale, TEXT, 1, cv2.LINE_AA)


def _bar(image: np.ndarray, name: str, value: float, origin: tuple[int, int], width: int,
         scale: float) -> None:
    """A bar centred on zero for a value in [-1, 1], labelled with the value."""
    text = f"{name} {value:+.2f}" if math.isfinite(value) else f"{name} n/a"
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    height, frame_width = image.shape[:2]
    x = int(np.clip(origin[0], 0, max(frame_width - width - tw - 8, 0)))
    y = int(np.clip(origin[1], 0, max(height - th - 4, 0)))
    bar_h = max(2, int(th * BAR_HEIGHT))
    top = y + (th - bar_h) // 2 + 2
    cv2.rectangle(image, (x, top), (x + width, top + bar_h), BAR_BACK, -1)
    if math.isfinite(value):
        centre = x + width // 2
        end = centre + int(round(np.clip(value, -1, 1) * width / 2))
        colour = BAR_POSITIVE if value >= 0 else BAR_NEGATIVE
        cv2.rectangle(image, (min(centre, end), top), (max(centre, end), top + bar_h), colour, -1)
        cv2.line(image, (centre, top - 1), (centre, top + bar_h + 1), TEXT, 1)
    cv2.putText(image, text, (x + width + 4, y + th + 2), FONT, scale, TEXT, 1, cv2.LINE_AA)


def contact_sheet(frames: list[np.ndarray], columns: int = 4, tile_width: int = 320
                  ) -> np.ndarray:
    """The frames side by side, ``columns`` per row, each resized to ``tile_width`` pixels wide
    (height by the first frame's aspect ratio); empty tiles are black."""
    if not frames or columns < 1 or tile_width < 1:
        raise ValueError(f"contact_sheet needs frames, columns >= 1 and tile_width >= 1; got "
                         f"{len(frames)} frames, columns={columns}, tile_width={tile_width}")
    height, width = frames[0].shape[:2]
    tile_height = max(1, round(tile_width * height / width))
    rows = math.ceil(len(frames) / columns)
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for k, frame in enumerate(frames):
        r, c = divmod(k, columns)
        tile = cv2.resize(frame, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        sheet[r * tile_height:(r + 1) * tile_height, c * tile_width:(c + 1) * tile_width] = tile
    return sheet
