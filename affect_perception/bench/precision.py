"""INT8 against FP32 on a trained model, in one run: encoder speed, agreement of the outputs,
and the synthetic held-out metrics of each.

The model is quantised here (`affect_perception.model.quantize`, calibrated on synthetic and
check-set crops) into a copy of its folder. Held-out clips are rendered from the seed the
demo model's held-out set uses (2), never the calibration seed; every frame of each clip gets
the estimate of the window ending at it, through the window cache as the node runs. Each
speed sample is the mean of `STEADY_BLOCK` encode steps of one precision in a row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from affect_perception.bench.timing import STEADY_BLOCK, interleaved, speedup
from affect_perception.evaluation import metrics
from affect_perception.runtime.engine import AffectEngine, EngineConfig

# Seed of the held-out clips (the demo model's held-out set: `synth --seed 2`).
HELDOUT_SEED = 2
CLIP_FRAMES = 24
# Each synthetic held-out metric of INT8 within this of FP32's (issue 21).
METRIC_TOLERANCE = 0.02
# The main score of each task.
SCORES = ("va_ccc", "au_f1_mean", "emi_pearson_mean", "ah_f1")


def heldout_clips(videos: int, size: int) -> list[object]:
    """Rendered single-face held-out clips (`synth.dataset.Clip`)."""
    from affect_perception.synth.dataset import render_clip, video_seed

    return [
        render_clip(video_seed(HELDOUT_SEED, i), CLIP_FRAMES, faces=1, crop_size=size)
        for i in range(videos)
    ]


def predict(engine: AffectEngine, clips: list[object]) -> dict[str, np.ndarray]:
    """{task: (videos · frames, dim)} estimates, every clip streamed as one track."""
    ids = [f"clip{i}" for i in range(len(clips))]
    cache = engine.windows(max_tracks=len(ids), max_gap=0)
    crops = np.stack([c.crops[0] for c in clips])  # (videos, frames, S, S, 3)
    frames: list[dict[str, np.ndarray]] = []
    for t in range(crops.shape[1]):
        cache.push(ids, engine.encode(crops[:, t]))
        frames.append(engine.temporal(cache.gather(ids)))
    # (frames, videos, dim) -> video-major rows, as the labels are stacked
    return {
        k: np.stack([f[k] for f in frames], axis=1).reshape(-1, frames[0][k].shape[1])
        for k in frames[0]
    }


def heldout_scores(pred: dict[str, np.ndarray], clips: list[object]) -> dict[str, float]:
    """The main metric of each task against the clips' labels (labelled frames only)."""
    keep = np.concatenate([c.labelled[0] for c in clips])
    label = {
        k: np.concatenate([getattr(c, k)[0] for c in clips])[keep]
        for k in ("va", "au", "emi", "ah")
    }
    scores = {
        **metrics.va_ccc(pred["va"][keep], label["va"]),
        **metrics.au_f1(pred["au"][keep], label["au"]),
        **metrics.emi_pearson(pred["emi"][keep], label["emi"]),
        **metrics.ah_f1(pred["ah"][keep], label["ah"]),
    }
    return {k: float(scores[k]) for k in SCORES}


def agreement(int8: dict[str, np.ndarray], fp32: dict[str, np.ndarray]) -> dict[str, float]:
    """``va_ccc_vs_fp32`` (the lower of valence's and arousal's CCC of INT8 against FP32) and
    ``au_agreement`` (the fraction of AU decisions at 0.5 that agree)."""
    ccc = min(metrics.ccc(int8["va"][:, i], fp32["va"][:, i]) for i in range(2))
    same = (int8["au"] >= 0.5) == (fp32["au"] >= 0.5)
    return {"va_ccc_vs_fp32": float(ccc), "au_agreement": float(same.mean())}


def int8_vs_fp32(
    model_dir: Path, work: Path, threads: int, repeats: int, videos: int, synthetic: int
) -> dict[str, object]:
    """Quantise a copy of ``model_dir`` and compare it with FP32 (see the module doc).

    Returns:
        ``speedup_b1``/``speedup_b4`` (FP32 over INT8 encoder time, median per-repeat ratio)
        with the medians, the agreement figures, ``heldout`` scores per precision and
        ``heldout_worst_drop`` (largest FP32 - INT8 score difference).
    """
    from affect_perception.model.calibration import calibration_crops
    from affect_perception.model.quantize import quantize_encoder

    folder = work / "int8_model"
    shutil.copytree(model_dir, folder, dirs_exist_ok=True)
    size = AffectEngine(EngineConfig(model_dir=folder, warmup=False)).info.input_size
    quantize_encoder(folder, calibration_crops(size, synthetic))
    engines = {
        p: AffectEngine(
            EngineConfig(
                model_dir=folder,
                providers=("CPUExecutionProvider",),
                intra_op_threads=threads,
                precision=p,
            )
        )
        for p in ("fp32", "int8")
    }
    clips = heldout_clips(videos, size)
    result: dict[str, object] = {"videos": videos, "calibration_synthetic": synthetic}
    for faces in (1, 4):
        crops = np.stack([c.crops[0, 0] for c in clips[:faces]])
        timing = interleaved(
            {p: (lambda e=e, x=crops: e.encode(x)) for p, e in engines.items()},
            repeats,
            block=STEADY_BLOCK,
        )
        result[f"fp32_ms_b{faces}"] = timing["fp32"].median_ms
        result[f"int8_ms_b{faces}"] = timing["int8"].median_ms
        result[f"speedup_b{faces}"] = speedup(timing["fp32"], timing["int8"])
    pred = {p: predict(e, clips) for p, e in engines.items()}
    result.update(agreement(pred["int8"], pred["fp32"]))
    result["heldout"] = {p: heldout_scores(v, clips) for p, v in pred.items()}
    result["heldout_worst_drop"] = max(
        result["heldout"]["fp32"][k] - result["heldout"]["int8"][k] for k in SCORES
    )
    return result
