"""Extreme frames through the decoder and AffectPipeline (no ROS): 1 × 1, 0 × 0, 8K
(7680 × 4320), mono16, and 20 faces in one frame (capped by ``max_faces``). Nothing crashes, a
frame that cannot be processed raises a ValueError the node counts, and the next frame runs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from affect_perception.runtime.detection.base import create_detector
from affect_perception.runtime.image_decode import ImageDecodeError, decode_image, encode_image
from affect_perception.runtime.pipeline import TRACK_SLOTS_PER_FACE, AffectPipeline, PipelineConfig

MAX_FACES = 4
# The astronaut's face, cropped tight enough that BlazeFace finds it in a 5 × 4 grid.
FACE = data.astronaut()[45:215, 165:305]
GRID = (5, 4)
GRID_FRAME = (1280, 1024)


def paste_face(frame: np.ndarray, x: int, y: int, height: int) -> None:
    width = round(height * FACE.shape[1] / FACE.shape[0])
    frame[y : y + height, x : x + width] = cv2.resize(
        FACE, (width, height), interpolation=cv2.INTER_AREA
    )


def twenty_faces() -> np.ndarray:
    """A 1280 × 1024 frame with 20 faces of slightly different sizes on a 5 × 4 grid."""
    frame = np.full((GRID_FRAME[1], GRID_FRAME[0], 3), 60, np.uint8)
    cell_w, cell_h = GRID_FRAME[0] // GRID[0], GRID_FRAME[1] // GRID[1]
    for k in range(GRID[0] * GRID[1]):
        row, col = divmod(k, GRID[0])
        height = cell_h - 12 - col * 8
        paste_face(frame, col * cell_w + 10, row * cell_h + 6, height)
    return frame


def one_face(size: tuple[int, int], height: int) -> np.ndarray:
    frame = np.full((size[1], size[0], 3), 90, np.uint8)
    paste_face(frame, size[0] // 3, size[1] // 4, height)
    return frame


@pytest.fixture(scope="module")
def pipeline(random_model_dir: Path) -> AffectPipeline:
    return AffectPipeline(
        PipelineConfig(model_dir=random_model_dir, intra_op_threads=1, max_faces=MAX_FACES)
    )


def run(pipeline: AffectPipeline, frames: list[np.ndarray]) -> list:
    pipeline.reset()
    return [pipeline.process(frame, stamp=i / 30) for i, frame in enumerate(frames)]


def test_one_pixel_frame_has_no_faces(pipeline: AffectPipeline) -> None:
    rgb = decode_image("rgb8", 1, 1, 3, False, b"\x10\x20\x30")
    (result,) = run(pipeline, [rgb])
    assert len(result.faces) == 0 and result.image_size == (1, 1)


def test_empty_frame_is_refused_and_the_next_one_runs(pipeline: AffectPipeline) -> None:
    with pytest.raises(ImageDecodeError, match="width"):
        decode_image("rgb8", 0, 0, 0, False, b"")
    with pytest.raises(ValueError, match="frame"):
        pipeline.process(np.zeros((0, 0, 3), np.uint8), stamp=0.0)
    results = run(pipeline, [one_face((640, 480), 200)] * 4)
    assert len(results[-1].faces) == 1


def test_8k_frame(pipeline: AffectPipeline) -> None:
    size = (7680, 4320)
    step, payload = encode_image(one_face(size, 1800), "bgr8")
    rgb = decode_image("bgr8", *size, step, False, payload)
    assert rgb.shape == (4320, 7680, 3)
    results = run(pipeline, [rgb] * 4)
    assert len(results[-1].faces) == 1  # confirmed after n_init = 3 frames
    x1, y1, x2, y2 = results[-1].faces.xyxy[0]
    assert x1 < 7680 // 3 + 700 < x2 and y1 < 4320 // 4 + 900 < y2  # around the pasted face


def test_mono16_frame(pipeline: AffectPipeline) -> None:
    grey = cv2.cvtColor(one_face((640, 480), 220), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    for big_endian in (False, True):
        payload = grey.astype(">u2" if big_endian else "<u2").tobytes()
        rgb = decode_image("mono16", 640, 480, 1280, big_endian, payload)
        assert np.array_equal(rgb[..., 0], (grey >> 8).astype(np.uint8))
        results = run(pipeline, [rgb] * 4)
        assert len(results[-1].faces) == 1


def test_twenty_faces_are_capped_at_max_faces(pipeline: AffectPipeline) -> None:
    frame = twenty_faces()
    uncapped = create_detector("blazeface").detect(frame)  # largest first
    assert len(uncapped) == 20
    results = run(pipeline, [frame] * 12)
    for result in results:
        assert len(result.faces) <= MAX_FACES
    faces = results[-1].faces
    assert len(faces) == MAX_FACES and len(set(faces.track_id)) == MAX_FACES
    assert faces.data["window_fill"].tolist() == [pipeline.window_size] * MAX_FACES
    assert len(pipeline.windows) <= MAX_FACES * TRACK_SLOTS_PER_FACE
    # the four largest faces, as the detector's own boxes
    order = np.argsort(-faces.area)
    assert np.allclose(faces.xyxy[order], uncapped.xyxy[:MAX_FACES])
