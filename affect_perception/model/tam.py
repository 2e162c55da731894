"""Temporal Aggregation Module: one `TemporalMixer` per feature scale, outputs concatenated."""

from __future__ import annotations

import torch
from torch import nn

from affect_perception.model.mixer import TemporalMixer


class TemporalAggregation(nn.Module):
    """Mix each scale's window of feature maps and concatenate the pooled vectors.

    Args:
        channels: {feature name: channels C}, in feature order.
        sizes: {feature name: map side S}.
        spatial_patches: {feature name: spatial patch side}.
        mixer_kwargs: `TemporalMixer` arguments shared by every scale (window, time patch,
            dim, depth, out_dim, expansions, layer types, dropout).
    """

    def __init__(
        self,
        channels: dict[str, int],
        sizes: dict[str, int],
        spatial_patches: dict[str, int],
        **mixer_kwargs: object,
    ) -> None:
        super().__init__()
        self.mixers = nn.ModuleDict(
            {
                name: TemporalMixer(
                    c, sizes[name], spatial_patch=spatial_patches[name], **mixer_kwargs
                )
                for name, c in channels.items()
            }
        )
        self.out_dim = sum(m.out_dim for m in self.mixers.values())

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """{name: (B, W, C, S, S)} -> (B, out_dim)."""
        return torch.cat([m(features[name]) for name, m in self.mixers.items()], dim=1)
