"""Calibration crops for static INT8 quantisation: synthetic faces plus the real check set.

Synthetic crops come from rendered videos (a seed that neither the training nor the held-out
data uses), aligned on their true keypoints; real crops from the check-set photos (fetched by
set-up, see `affect_perception.realfaces.checkset`), found by the runtime's detector and aligned
as the node aligns them. Torch is not needed.
"""

from __future__ import annotations

import logging

import numpy as np

from affect_perception.runtime.alignment import align_faces

LOG = logging.getLogger(__name__)

# Seed of the synthetic calibration videos (training data uses 1, the held-out set 2).
SYNTH_SEED = 11
# Frames per rendered calibration video; crops are taken across the whole video.
CLIP_FRAMES = 24


def synthetic_crops(count: int, size: int, seed: int = SYNTH_SEED) -> np.ndarray:
    """(count, size, size, 3) uint8 crops from ``count`` rendered single-face videos, one
    frame each, spread over the videos' length."""
    from affect_perception.synth.dataset import render_clip, video_seed

    crops = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        clip = render_clip(video_seed(seed, i), CLIP_FRAMES, faces=1, crop_size=size)
        crops[i] = clip.crops[0, (i * 7) % CLIP_FRAMES]
    return crops


def checkset_crops(size: int) -> np.ndarray:
    """(n, size, size, 3) uint8 crops of every face the detector finds in the check-set
    photos; photos not fetched are skipped with a warning (set-up fetches them)."""
    from affect_perception.realfaces.checkset import PHOTOS, load_photo
    from affect_perception.runtime.detection.base import DetectorConfig, build_detector

    detector = build_detector(DetectorConfig())
    crops = []
    for name in PHOTOS:
        try:
            photo = load_photo(name)
        except FileNotFoundError as err:
            LOG.warning("calibration without check-set photo %s: %s", name, err)
            continue
        crops.append(align_faces(photo, detector.detect(photo), size=size))
    return np.concatenate(crops) if crops else np.zeros((0, size, size, 3), np.uint8)


def calibration_crops(size: int, synthetic: int, real: bool = True) -> np.ndarray:
    """Synthetic crops, then (with ``real``) the check set's, in one array."""
    parts = [synthetic_crops(synthetic, size)]
    if real:
        parts.append(checkset_crops(size))
    crops = np.concatenate(parts)
    LOG.info("calibration crops: %d synthetic, %d real", synthetic, len(crops) - synthetic)
    return crops
