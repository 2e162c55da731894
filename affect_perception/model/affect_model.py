"""`AffectModel`: backbone encoder per frame, temporal MLP-Mixer and task heads per window.

The streaming split: `encode` runs once per face per frame and its maps are cached; `temporal`
runs over the last W cached frames and gives the estimate for the newest one. `forward` is the
two in a row over a clip, and equals them exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from affect_perception.model.backbone import Backbone
from affect_perception.model.config import ModelConfig
from affect_perception.model.heads import TaskHeads
from affect_perception.model.tam import TemporalAggregation


class AffectModel(nn.Module):
    """Per-face affect from a window of face crops.

    Args:
        config: architecture and training switches; defaults to ``ModelConfig()``.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.backbone = Backbone(
            config.backbone,
            config.num_scales,
            config.input_size,
            config.backbone_weights,
            config.cache_channels,
        )
        names = self.backbone.names
        self.tam = TemporalAggregation(
            self.backbone.channels,
            self.backbone.sizes,
            dict(zip(names, config.spatial_patch[-config.num_scales :], strict=True)),
            window=config.window,
            time_patch=config.time_patch,
            dim=config.hidden_dim,
            depth=config.depth,
            out_dim=config.mixer_out_dim,
            token_expansion=config.token_expansion,
            channel_expansion=config.channel_expansion,
            drop=config.mixer_dropout,
        )
        self.heads = TaskHeads(self.tam.out_dim, config.tasks, config.head_dropout)
        self.trainable_parameters()

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the encoder's maps, finest first (``feat_28``, ``feat_14``, ``feat_7``)."""
        return self.backbone.names

    @property
    def feature_shapes(self) -> dict[str, tuple[int, int, int]]:
        """{feature name: (C, S, S)} of one encoded frame."""
        return {n: (self.backbone.channels[n], s, s) for n, s in self.backbone.sizes.items()}

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel RGB mean of the input normalisation ``(x / 255 - mean) / std``."""
        return self.backbone.mean

    @property
    def std(self) -> tuple[float, ...]:
        """Per-channel RGB standard deviation of the input normalisation."""
        return self.backbone.std

    def encode(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode normalised crops (B, 3, H, W) into {name: (B, C, S, S)}: once per frame."""
        side = self.config.input_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, side, side):
            raise ValueError(f"images must be (B, 3, {side}, {side}), got {tuple(images.shape)}")
        return self.backbone(images)

    def temporal(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Task outputs for the newest frame of cached windows {name: (B, W, C, S, S)}.

        Returns:
            {task: (B, dim)}: ``va`` through tanh, ``au`` logits, ``emi`` through a sigmoid,
            ``ah`` logits.
        """
        for name, shape in self.feature_shapes.items():
            got = tuple(features[name].shape) if name in features else None
            want = (self.config.window, *shape)
            if got is None or got[1:] != want:
                raise ValueError(f"features[{name!r}] must be (B, *{want}), got {got}")
        return self.heads(self.tam(features))

    def forward(self, clip: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode every frame of clips (B, W, 3, H, W), oldest first, then run `temporal`."""
        if clip.ndim != 5 or clip.shape[1] != self.config.window:
            raise ValueError(
                f"clip must be (B, {self.config.window}, 3, H, W) for window "
                f"{self.config.window}, got {tuple(clip.shape)}"
            )
        batch, window = clip.shape[:2]
        features = self.encode(clip.flatten(0, 1))
        return self.temporal({n: f.unflatten(0, (batch, window)) for n, f in features.items()})

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Apply the backbone freeze of the config and return the parameters left to train.

        With ``freeze_early_stages`` the stem and every backbone stage but the last get
        ``requires_grad=False`` (and stay in eval mode, see `train`); otherwise all train.
        """
        frozen = set(map(id, self.backbone.early_stage_parameters()))
        for p in self.parameters():
            p.requires_grad_(not (self.config.freeze_early_stages and id(p) in frozen))
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> AffectModel:
        """Set training mode; frozen backbone stages keep eval mode (fixed BatchNorm stats)."""
        super().train(mode)
        if mode and self.config.freeze_early_stages:
            for module in self.backbone.early_stage_modules():
                module.eval()
        return self

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the per-frame encoder and of the temporal part (mixers and heads)."""
        temporal = sum(p.numel() for m in (self.tam, self.heads) for p in m.parameters())
        return {
            "encoder": sum(p.numel() for p in self.backbone.parameters()),
            "temporal": temporal,
        }
