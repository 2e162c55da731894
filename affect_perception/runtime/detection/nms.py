"""Non-maximum suppression for xyxy boxes: greedy (keep the best), weighted (blend a cluster)."""

from __future__ import annotations

import numpy as np

from affect_perception.detections import box_iou


def _clusters(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[np.ndarray]:
    """Greedy clusters, best score first: each is the best box left and all boxes left that
    overlap it by at least ``iou_threshold`` (itself first)."""
    order = np.argsort(-scores, kind="stable")
    clusters = []
    while order.size:
        overlap = box_iou(boxes[order[:1]], boxes[order])[0] >= iou_threshold
        overlap[0] = True
        clusters.append(order[overlap])
        order = order[~overlap]
    return clusters


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first."""
    return np.array([c[0] for c in _clusters(boxes, scores, iou_threshold)], dtype=np.int64)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each cluster becomes the score-weighted mean of its boxes and
    points, scored by its best member.

    Args:
        boxes: (n, 4) xyxy.
        scores: (n,).
        points: (n, ...) per-box coordinates blended like the boxes (keypoints).
        iou_threshold: overlap at which a box joins a better one's cluster.

    Returns:
        ``(boxes, scores, points)`` of the blended detections, best score first.
    """
    clusters = _clusters(boxes, scores, iou_threshold)
    if not clusters:
        return boxes[:0], scores[:0], points[:0]

    def blend(values: np.ndarray) -> np.ndarray:
        means = [np.average(values[c], axis=0, weights=scores[c]) for c in clusters]
        return np.stack(means).astype(values.dtype)

    return blend(boxes), scores[[c[0] for c in clusters]], blend(points)
