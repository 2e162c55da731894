"""`ModelConfig`: every size of the affect model in one dataclass that round-trips through JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from affect_perception.config_checks import require_positive
from affect_perception.labels import TASKS

# Variant name -> how many backbone scales feed the temporal model (the coarsest ones).
VARIANT_SCALES: dict[str, int] = {"single": 1, "two": 2, "three": 3}
# Most scales a variant can use: strides 8, 16 and 32 of the backbone.
MAX_SCALES = max(VARIANT_SCALES.values())


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and training switches of an `AffectModel`.

    Attributes:
        variant: ``single`` (7×7 map), ``two`` (14×14 + 7×7) or ``three`` (28×28 + 14×14 + 7×7).
        window: frames W the temporal model sees; the estimate is for the newest one.
        time_patch: frames per token; must divide ``window``.
        spatial_patch: spatial patch side per scale, finest first (strides 8, 16, 32); a
            variant with k scales uses the last k entries.
        hidden_dim: token width of every mixer.
        depth: mixer blocks per scale.
        token_expansion: token-mixing MLP width as a multiple of the number of tokens.
        channel_expansion: channel-mixing MLP width as a multiple of ``hidden_dim``.
        mixer_out_dim: width of a linear layer after each mixer's pooling, or None for none
            (the authors' code has one of width 256; see docs/MODEL.md).
        mixer_dropout: dropout inside the mixer MLPs.
        head_dropout: dropout on the concatenated mixer outputs before the task heads.
        tasks: heads the model has, a subset of ``labels.TASKS`` (kept in that order).
        backbone: timm model name, built ``features_only``.
        input_size: side of the square RGB face crop in pixels.
        cache_channels: if set, a 1×1 convolution in the encoder narrows every feature map
            wider than this, so each cached frame is smaller; None keeps the backbone maps.
        freeze_early_stages: train only the last backbone stage; False trains the whole
            backbone (sensible when it starts from random weights).
        backbone_weights: optional local safetensors file with timm backbone weights; None
            starts from random weights (nothing is downloaded).
    """

    variant: str = "single"
    window: int = 8
    time_patch: int = 4
    spatial_patch: tuple[int, ...] = (4, 2, 1)
    hidden_dim: int = 256
    depth: int = 1
    token_expansion: float = 4.0
    channel_expansion: float = 0.5
    mixer_out_dim: int | None = None
    mixer_dropout: float = 0.0
    head_dropout: float = 0.1
    tasks: tuple[str, ...] = TASKS
    backbone: str = "mobilenetv4_conv_small"
    input_size: int = 224
    cache_channels: int | None = None
    freeze_early_stages: bool = True
    backbone_weights: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tasks) - set(TASKS))
        if not self.tasks or unknown:
            raise ValueError(
                f"tasks must be a non-empty subset of {list(TASKS)}, got {self.tasks}"
            )
        object.__setattr__(self, "tasks", tuple(t for t in TASKS if t in self.tasks))
        object.__setattr__(self, "spatial_patch", tuple(self.spatial_patch))
        if self.variant not in VARIANT_SCALES:
            raise ValueError(
                f"variant must be one of {sorted(VARIANT_SCALES)}, got {self.variant!r}"
            )
        require_positive(self, ("window", "time_patch", "hidden_dim", "depth", "input_size"))
        if self.window % self.time_patch:
            raise ValueError(
                f"window {self.window} is not a multiple of time_patch {self.time_patch}: "
                f"choose a window such as {-(-self.window // self.time_patch) * self.time_patch} "
                "or a time_patch that divides it"
            )
        if len(self.spatial_patch) != MAX_SCALES or min(self.spatial_patch) < 1:
            raise ValueError(
                f"spatial_patch must hold {MAX_SCALES} positive sizes (strides 8, 16, 32), "
                f"got {self.spatial_patch}"
            )
        if self.token_expansion <= 0 or self.channel_expansion <= 0:
            raise ValueError("token_expansion and channel_expansion must be positive")
        for name in ("mixer_out_dim", "cache_channels"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be None or a positive integer")

    @property
    def num_scales(self) -> int:
        """Backbone scales the variant feeds to the temporal model."""
        return VARIANT_SCALES[self.variant]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from `to_dict` output; unknown keys raise ValueError naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"a model config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known keys: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as err:  # a value of the wrong type, e.g. "8" for window
            raise ValueError(f"invalid model config value: {err}") from err
