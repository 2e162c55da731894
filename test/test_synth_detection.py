"""The default face detector (BlazeFace) finds the synthetic faces where the ground truth says."""

from __future__ import annotations

import numpy as np

from affect_perception.detections import box_iou
from affect_perception.runtime.detection.base import create_detector
from affect_perception.synth.scene import Video

# Box overlap at which a detection counts as the true face.
MATCH_IOU = 0.5


def test_blazeface_finds_the_faces_in_view() -> None:
    detector = create_detector("blazeface", variant="back", threads=1)
    ious, eye_errors, extra = [], [], 0
    for seed, faces in enumerate([1, 1, 2, 3, 2, 1, 2, 3] * 2):
        video = Video(seed, 31, faces=faces)
        for index in (0, 10, 20, 30):
            frame = video.render(index)
            found = detector.detect(frame.image)
            matched = set()
            for truth in frame.faces:
                overlaps = list(box_iou(truth.box, found.xyxy)[0])
                best = int(np.argmax(overlaps)) if overlaps else -1
                if truth.visible < 1.0:  # partly out of the frame: not scored, not a false hit
                    if overlaps and overlaps[best] >= MATCH_IOU:
                        matched.add(best)
                    continue
                ious.append(overlaps[best] if overlaps else 0.0)
                if ious[-1] >= MATCH_IOU:
                    matched.add(best)
                    error = np.linalg.norm(found.keypoints[best, :2] - truth.keypoints[:2], axis=1)
                    eye_errors.append(error.max() / (truth.box[2] - truth.box[0]))
            extra += len(found) - len(matched)
    ious = np.array(ious)
    assert len(ious) >= 100
    assert np.mean(ious >= MATCH_IOU) >= 0.9, f"recall {np.mean(ious >= MATCH_IOU):.2f}"
    assert np.median(ious) >= 0.75
    assert np.median(eye_errors) < 0.08  # eye keypoints within a few % of the face width
    assert extra <= 2  # detections where no face is
