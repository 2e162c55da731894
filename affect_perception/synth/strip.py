"""A picture strip of synthetic frames with their labels, for the documentation."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from affect_perception.labels import AU_NAMES, EMI_NAMES
from affect_perception.synth.scene import FaceTruth, Video

# Video seed of the documentation strip (picked for varied expressions and a hesitation).
STRIP_SEED = 228
# Width of one tile, and the height of the text panel under it, in pixels.
TILE_WIDTH = 320
PANEL_HEIGHT = 62
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _caption(index: int, face: FaceTruth) -> list[str]:
    if not face.labelled:
        return [f"#{index}", "labels missing:", "face out of the frame"]
    active = [name[2:] for name, on in zip(AU_NAMES, face.au, strict=True) if on]
    top = int(np.argmax(face.emi))
    return [
        f"#{index}  V {face.valence:+.2f}  A {face.arousal:+.2f}",
        f"AU {' '.join(active) if active else '-'}",
        f"AH {face.ah}  EMI {EMI_NAMES[top]} {face.emi[top]:.2f}",
    ]


def make_strip(
    seed: int = STRIP_SEED, count: int = 6, every: int = 10, size: tuple[int, int] = (640, 480)
) -> np.ndarray:
    """(H, W, 3) RGB strip of ``count`` frames, one every ``every``, with the ground-truth box,
    keypoints and labels of the first face under each."""
    video = Video(seed, count * every, 1, size)
    tiles = []
    for index in range(0, count * every, every):
        frame = video.render(index)
        image = frame.image.copy()
        face = frame.faces[0]
        x1, y1, x2, y2 = np.round(face.box).astype(int)
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 255, 0), 2)
        for x, y in face.keypoints:
            cv2.circle(image, (int(round(x)), int(round(y))), 3, (255, 40, 40), -1)
        scale = TILE_WIDTH / size[0]
        image = cv2.resize(
            image, (TILE_WIDTH, int(round(size[1] * scale))), interpolation=cv2.INTER_AREA
        )
        panel = np.full((PANEL_HEIGHT, TILE_WIDTH, 3), 255, np.uint8)
        for row, text in enumerate(_caption(index, face)):
            cv2.putText(panel, text, (6, 17 + 19 * row), FONT, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([image, panel], axis=0))
        tiles.append(np.full((tiles[-1].shape[0], 4, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def save_strip(path: Path | str, seed: int = STRIP_SEED) -> Path:
    """Write :func:`make_strip` as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(make_strip(seed), cv2.COLOR_RGB2BGR)):
        raise ValueError(f"could not write {path}; use a .png path in a writable folder")
    return path
