"""`TrainConfig`: the model, data and run settings of one training run, from YAML and flags.

Precedence (timm ``train.py`` style): the dataclass defaults, then the YAML file, then the
command-line flags that were given; a flag left unset never overrides a config value. The
run writes the resolved config as ``config.yaml`` next to its outputs, and
``TrainConfig.load(that file)`` rebuilds the same run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from affect_perception.config_checks import require_positive
from affect_perception.model.config import ModelConfig

# The file name of the resolved config in a run's output folder.
CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class DataConfig:
    """Where the training and validation data lie.

    Attributes:
        train: data sources; each a data root in the Aff-Wild2 layout (``cropped_aligned/``
            plus each task's label folders, as ``affect-perception synth`` writes it) or a
            mapping ``{frames: DIR, va: DIR, au: DIR, emi: CSV, ah: DIR}`` of explicit paths.
        val: validation sources, the same forms; empty: the ``val_split`` of ``train``'s roots.
        test: held-out sources scored once after training with the best checkpoint (written
            to ``test_metrics.json``); never used to choose anything.
        train_split: split folder name under a root for training.
        val_split: split folder name under a root for validation.
        test_split: split folder name under a test root.
    """

    train: tuple[Any, ...] = ()
    val: tuple[Any, ...] = ()
    test: tuple[Any, ...] = ()
    train_split: str = "Train_Set"
    val_split: str = "Validation_Set"
    test_split: str = "Validation_Set"

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class RunConfig:
    """Optimisation, losses, caching and bookkeeping of a run.

    Attributes:
        out: output folder (config, metrics, checkpoints).
        seed: seed of the model's initialisation, the segment sampler and dropout.
        epochs: training epochs; validation runs after each (and once before the first).
        steps_per_epoch: optimiser steps per epoch.
        batch_size: segments per step and process.
        segment_length: frames per segment; a multiple of the time patch, at least the window.
        lr: peak learning rate of AdamW.
        min_lr: learning rate at the end of the cosine decay.
        weight_decay: AdamW weight decay.
        warmup_steps: steps of linear warm-up before the cosine decay.
        grad_clip: largest gradient norm, or 0 for no clipping.
        va_weight, au_weight, emi_weight, ah_weight: weights of the task losses.
        pos_weight: weigh the positive class of each AU and of A/H by the square root of its
            negative/positive ratio in the training labels (capped at ``max_pos_weight``).
        max_pos_weight: cap of those weights.
        focal_gamma: focal exponent of the AU and A/H losses (0: weighted BCE).
        emi_mse_weight: weight of the MSE term of the EMI loss beside ``1 - Pearson``.
        calibrate: after the last epoch, move each AU's and A/H's decision point in the best
            checkpoint to its F1-best threshold on the validation videos (train/calibration.py);
            worth it only where the validation videos look like the deployment (docs/TRAINING.md).
        feature_cache: cache the frozen backbone prefix per frame; None: on whenever the
            early stages are frozen and ``pixel_augment`` is off (see train/feature_cache.py).
        pixel_augment: colour, flip and noise augmentation of the crops (needs the cache off).
        feature_noise: std of the multiplicative noise on cached features (0: none).
        threads: torch CPU threads, or None for torch's default.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        val_batch: windows per temporal pass in validation.
        cache_batch: frames per backbone pass when caching or validating.
        resume: checkpoint folder of an earlier run (``checkpoints/last``) to continue from.
        init_weights: checkpoint whose weights the model starts from (a fine-tune; not read
            when resuming, whose checkpoint holds the weights already).
        freeze_norm: keep every BatchNorm in eval mode (running statistics fixed) while
            training, as a model rebuilt from ONNX files needs (its BatchNorms are folded).
        progress: show tqdm progress bars.
    """

    out: str = "runs/train"
    seed: int = 0
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 8
    segment_length: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_steps: int = 50
    grad_clip: float = 1.0
    va_weight: float = 1.0
    au_weight: float = 1.0
    emi_weight: float = 1.0
    ah_weight: float = 1.0
    pos_weight: bool = True
    max_pos_weight: float = 10.0
    focal_gamma: float = 0.0
    emi_mse_weight: float = 1.0
    feature_cache: bool | None = None
    pixel_augment: bool = False
    feature_noise: float = 0.0
    threads: int | None = None
    device: str = "auto"
    val_batch: int = 256
    cache_batch: int = 32
    calibrate: bool = False
    resume: str | None = None
    init_weights: str | None = None
    freeze_norm: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            if isinstance(f.default, float) and not isinstance(getattr(self, f.name), float):
                # YAML 1.1 reads 2e-3 as text; a number of any spelling is accepted
                try:
                    object.__setattr__(self, f.name, float(getattr(self, f.name)))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{f.name} must be a number, got {getattr(self, f.name)!r}"
                    ) from None
        require_positive(
            self,
            (
                "epochs",
                "steps_per_epoch",
                "batch_size",
                "segment_length",
                "val_batch",
                "cache_batch",
            ),
        )
        if self.feature_cache and self.pixel_augment:
            raise ValueError(
                "pixel_augment needs the pixels of every step: set feature_cache "
                "to false, or augment at feature level with feature_noise"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")


# Section name in the YAML file -> its dataclass.
SECTIONS: dict[str, type] = {"model": ModelConfig, "data": DataConfig, "run": RunConfig}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: ``model`` (`ModelConfig`), ``data`` and ``run`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain YAML-ready dict (tuples become lists)."""
        return {name: _plain(asdict(getattr(self, name))) for name in SECTIONS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict of sections; unknown sections or keys raise ValueError."""
        return cls().updated(data)

    def updated(self, data: dict[str, Any]) -> TrainConfig:
        """A copy with the given ``{section: {key: value}}`` values replaced."""
        if not isinstance(data, dict):
            raise ValueError(f"a training config must be a mapping of sections, got {data!r}")
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ValueError(f"unknown config sections {unknown}; use {list(SECTIONS)}")
        sections = {}
        for name, values in data.items():
            current = getattr(self, name)
            known = {f.name for f in fields(current)}
            bad = sorted(set(values or {}) - known)
            if bad:
                raise ValueError(f"unknown keys {bad} in section {name!r}; known: {sorted(known)}")
            sections[name] = replace(current, **(values or {}))
        return replace(self, **sections)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a YAML config file."""
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read the training config {path}: {err}") from err
        return cls.from_dict(data)

    def save(self, folder: str | Path) -> Path:
        """Write ``config.yaml`` into ``folder``; returns its path."""
        path = Path(folder) / CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so YAML writes plain sequences."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
