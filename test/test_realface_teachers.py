"""The real-face teachers in numpy: weight decoding, ops, geometry, and parity with TensorFlow.js.

The parity tests run each teacher's original under node (`@tensorflow/tfjs`, cpu backend,
installed into the check set by set-up) and compare to 1e-4; they skip, saying why, only
where node itself is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from affect_perception.realfaces import checkset
from affect_perception.realfaces.teachers import geometry
from affect_perception.realfaces.teachers.ensemble import (
    CLASSES,
    Teachers,
    expression_signals,
    roll_degrees,
    to_common,
)
from affect_perception.realfaces.teachers.face_api import MANIFEST, FaceApiExpression
from affect_perception.realfaces.teachers.facemesh import FaceMesh
from affect_perception.realfaces.teachers.human_emotion import HumanEmotion
from affect_perception.realfaces.teachers.reference import node_missing_reason, run_reference
from affect_perception.realfaces.teachers.tfjs import (
    GraphModel,
    conv2d,
    depthwise_conv2d,
    load_weights,
)
from affect_perception.realfaces.teachers.views import face_views

ROOT = checkset.checkset_dir()
FACE_API_DIR = ROOT / checkset.FACE_API.folder
HUMAN_DIR = ROOT / checkset.HUMAN.folder / "models"
# The astronaut's face box (x1, y1, x2, y2) as BlazeFace finds it.
ASTRONAUT_BOX = np.array([172, 72, 276, 176], np.float32)
PARITY_TOL = 1e-4


def test_load_weights_dequantises_uint8_and_float16(tmp_path: Path) -> None:
    q = np.array([0, 1, 255], np.uint8)
    h = np.array([0.5, -2.0], np.float16)
    f = np.array([[1.5, 2.5]], np.float32)
    (tmp_path / "w.bin").write_bytes(q.tobytes() + h.tobytes() + f.tobytes())
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [
                {
                    "name": "q",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.5},
                },
                {
                    "name": "h",
                    "shape": [2],
                    "dtype": "float32",
                    "quantization": {"dtype": "float16"},
                },
                {"name": "f", "shape": [1, 2], "dtype": "float32"},
            ],
        }
    ]
    w = load_weights(manifest, tmp_path)
    np.testing.assert_allclose(w["q"], [-1.0, -0.5, 126.5])  # min + scale * q
    np.testing.assert_allclose(w["h"], [0.5, -2.0])
    np.testing.assert_array_equal(w["f"], f)


def test_load_weights_says_when_the_file_is_short(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\0" * 4)
    manifest = [
        {"paths": ["w.bin"], "weights": [{"name": "big", "shape": [4], "dtype": "float32"}]}
    ]
    with pytest.raises(ValueError, match="too short for big"):
        load_weights(manifest, tmp_path)


def _naive_conv(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, int]) -> np.ndarray:
    """Direct loops over TF-style SAME padding (pads before/after along both axes)."""
    x = np.pad(x, ((0, 0), pads, pads, (0, 0)))
    k = w.shape[0]
    out_h = (x.shape[1] - k) // stride + 1
    out = np.zeros((1, out_h, out_h, w.shape[3]))
    for i in range(out_h):
        for j in range(out_h):
            patch = x[0, i * stride : i * stride + k, j * stride : j * stride + k]
            out[0, i, j] = np.einsum("hwc,hwco->o", patch, w)
    return out


@pytest.mark.parametrize(
    ("size", "stride", "pads"),
    [
        (6, 1, (1, 1)),  # stride 1: symmetric
        (6, 2, (0, 1)),  # stride 2 on an even size: TF pads only after
        (7, 2, (1, 1)),  # odd size: both sides
    ],
)
def test_conv2d_same_padding_matches_direct_loops(
    size: int, stride: int, pads: tuple[int, int]
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, size, size, 2)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        conv2d(x, w, stride, "SAME"), _naive_conv(x, w, stride, pads), atol=1e-5
    )
    # a depthwise conv is a full conv with a diagonal kernel
    dw = rng.normal(size=(3, 3, 2, 1)).astype(np.float32)
    full = np.zeros((3, 3, 2, 2), np.float32)
    full[:, :, 0, 0], full[:, :, 1, 1] = dw[:, :, 0, 0], dw[:, :, 1, 0]
    np.testing.assert_allclose(
        depthwise_conv2d(x, dw, stride, "SAME"), _naive_conv(x, full, stride, pads), atol=1e-5
    )


def _rotated(points: np.ndarray, degrees: float, scale: float) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((100, 100), degrees, scale)
    return points @ matrix[:, :2].T + matrix[:, 2]


def _mesh_of_astronaut() -> np.ndarray:
    teachers = Teachers()
    return teachers.teach(data.astronaut(), ASTRONAUT_BOX).landmarks


def test_geometry_features_ignore_roll_and_size() -> None:
    mesh = _mesh_of_astronaut()
    base = geometry.features(mesh)
    turned = geometry.features(_rotated(mesh, 25, 0.6))
    for name in geometry.FEATURES:
        assert turned[name] == pytest.approx(base[name], abs=1e-6), name


def test_au12_proxy_grows_when_the_mouth_widens_and_corners_rise() -> None:
    mesh = _mesh_of_astronaut()
    smile = mesh.copy()
    left, right = geometry.MOUTH_CORNERS
    smile[left] += (-3.0, -2.0)  # corners move out and up (image y grows downwards)
    smile[right] += (3.0, -2.0)
    proxies = geometry.au_proxies(geometry.features(smile), geometry.features(mesh))
    assert proxies["AU12"] > 0
    assert proxies["AU25"] == pytest.approx(0.0, abs=1e-9)  # the lips did not part
    assert geometry.au_proxies(geometry.features(mesh), geometry.features(mesh))["AU12"] == 0


def test_expression_signals_and_class_order() -> None:
    p = np.array([0.1, 0.5, 0.1, 0.1, 0.1, 0.05, 0.05])  # CLASSES order
    s = expression_signals(p)
    assert s["valence"] == pytest.approx(0.5 - 0.35)
    assert s["Joy"] == s["Amusement"] == pytest.approx(0.5)
    human_order = ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
    reordered = to_common(np.arange(7.0), human_order)
    assert reordered[CLASSES.index("happy")] == human_order.index("happy")


@pytest.mark.parametrize(
    ("keypoints", "expected"),
    [
        (np.array([[0.0, 0.0], [10.0, 0.0]]), 0.0),  # level eyes
        (np.array([[0.0, 0.0], [10.0, 10.0]]), 45.0),  # left eye lower: turn back 45 degrees
        (None, 0.0),  # no keypoints
    ],
)
def test_roll_degrees(keypoints: np.ndarray | None, expected: float) -> None:
    assert roll_degrees(keypoints) == pytest.approx(expected)


def test_teachers_see_the_astronaut_smiling() -> None:
    teaching = Teachers().teach(data.astronaut(), ASTRONAUT_BOX)
    for teacher, probs in teaching.expressions.items():
        assert CLASSES[int(np.argmax(probs))] == "happy", teacher
    assert teaching.mesh_score > 0.9


# ---- parity with the originals under node ----------------------------------------------------


def _require_node() -> Path:
    modules = checkset.node_modules()
    if shutil.which("node") is None:
        pytest.skip("node (Node.js) is not installed: the TensorFlow.js reference cannot run")
    reason = node_missing_reason(modules)
    assert reason is None, reason  # node is here, so set-up should have installed tfjs
    return modules


def _inputs(size: int) -> np.ndarray:
    """A real face crop and a random image, RGB 0..255."""
    real = face_views(data.astronaut(), ASTRONAUT_BOX, 1.0, size)[0]
    noise = np.random.default_rng(1).uniform(0, 255, (size, size, 3))
    return np.stack([real, noise]).astype(np.float32)


def test_face_api_matches_tfjs() -> None:
    modules = _require_node()
    model = FaceApiExpression(FACE_API_DIR / "model")
    x = _inputs(model.input_size)
    ref = run_reference(
        {
            "kind": "face_api",
            "model": FACE_API_DIR / "model" / MANIFEST,
            "face_api": FACE_API_DIR / "dist" / "face-api.node-wasm.js",
        },
        x,
        modules,
    )
    np.testing.assert_allclose(model.probabilities(x), ref[0].reshape(2, 7), atol=PARITY_TOL)


def test_human_emotion_matches_tfjs() -> None:
    modules = _require_node()
    model = HumanEmotion(HUMAN_DIR / "emotion.json")
    x = _inputs(model.input_size)
    ref = run_reference(
        {"kind": "graph", "model": HUMAN_DIR / "emotion.json", "outputs": ["Identity"]},
        model.preprocess(x),
        modules,
    )
    np.testing.assert_allclose(model.probabilities(x), ref[0].reshape(2, 7), atol=PARITY_TOL)


def test_facemesh_matches_tfjs() -> None:
    modules = _require_node()
    model = FaceMesh(HUMAN_DIR / "facemesh.json")
    x = _inputs(model.input_size)
    ref = run_reference(
        {
            "kind": "graph",
            "model": HUMAN_DIR / "facemesh.json",
            "outputs": ["Identity_2", "Identity_1"],
        },
        x / 255,
        modules,
    )
    mesh, score = model.run(x)
    # landmarks in units of the crop (pixels / 192): float32 sums of a 192-pixel range
    np.testing.assert_allclose(
        mesh.reshape(-1) / model.input_size, ref[0] / model.input_size, atol=PARITY_TOL
    )
    np.testing.assert_allclose(score, ref[1], atol=PARITY_TOL)


def test_graph_model_names_ops_it_lacks(tmp_path: Path) -> None:
    spec = {
        "format": "graph-model",
        "weightsManifest": [],
        "modelTopology": {
            "node": [
                {"name": "x", "op": "Placeholder"},
                {"name": "y", "op": "Erf", "input": ["x"]},
            ]
        },
    }
    (tmp_path / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="Erf"):
        GraphModel(tmp_path / "model.json")
