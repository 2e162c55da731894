"""3D MLP-Mixer over one feature scale: (time patch × spatial patch) tokens, mixed, then pooled.

After Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision" (2021), and timm's
``MixerBlock``: a token-mixing MLP across tokens and a channel-mixing MLP across features,
each behind a LayerNorm with a residual connection.
"""

from __future__ import annotations

import torch
from timm.layers import Mlp
from torch import nn


class MixerBlock(nn.Module):
    """Token mixing across the sequence, then channel mixing, each pre-normed and residual.

    Args:
        dim: token width.
        num_tokens: sequence length.
        token_expansion: token-mixing hidden width as a multiple of ``num_tokens``.
        channel_expansion: channel-mixing hidden width as a multiple of ``dim``.
        mlp_layer: MLP type, called as ``mlp_layer(in, hidden, act_layer=, drop=)``.
        norm_layer: normalisation type, called with ``dim``.
        act_layer: activation type inside the MLPs.
        drop: dropout inside the MLPs.
    """

    def __init__(
        self,
        dim: int,
        num_tokens: int,
        token_expansion: float = 4.0,
        channel_expansion: float = 0.5,
        mlp_layer: type[nn.Module] = Mlp,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.mlp_tokens = mlp_layer(
            num_tokens, int(token_expansion * num_tokens), act_layer=act_layer, drop=drop
        )
        self.norm2 = norm_layer(dim)
        self.mlp_channels = mlp_layer(
            dim, int(channel_expansion * dim), act_layer=act_layer, drop=drop
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, dim) -> (B, N, dim)."""
        x = x + self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp_channels(self.norm2(x))


class TemporalMixer(nn.Module):
    """Cut a window of feature maps into 3D patches, mix them, and mean-pool to one vector.

    Args:
        in_channels: channels C of the feature map.
        size: side S of the feature map.
        window: frames W in the window.
        time_patch: frames per token; divides ``window``.
        spatial_patch: spatial patch side; divides ``size``.
        dim: token width.
        depth: number of mixer blocks.
        out_dim: width of a linear layer after pooling, or None for none.
        norm_layer: normalisation type of the blocks and the final norm.
        block_kwargs: further `MixerBlock` arguments (expansions, MLP and activation types,
            dropout).
    """

    def __init__(
        self,
        in_channels: int,
        size: int,
        window: int,
        time_patch: int,
        spatial_patch: int,
        dim: int,
        depth: int,
        out_dim: int | None = None,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        **block_kwargs: object,
    ) -> None:
        super().__init__()
        if size % spatial_patch:
            raise ValueError(
                f"spatial patch {spatial_patch} does not divide the {size}×{size} feature map: "
                "choose a spatial_patch entry that divides it"
            )
        if window % time_patch:
            raise ValueError(f"time patch {time_patch} does not divide the window {window}")
        patch = (time_patch, spatial_patch, spatial_patch)
        # a strided 3D convolution is the linear embedding of non-overlapping 3D patches
        self.embed = nn.Conv3d(in_channels, dim, kernel_size=patch, stride=patch)
        num_tokens = (window // time_patch) * (size // spatial_patch) ** 2
        self.blocks = nn.Sequential(
            *[
                MixerBlock(dim, num_tokens, norm_layer=norm_layer, **block_kwargs)
                for _ in range(depth)
            ]
        )
        self.norm = norm_layer(dim)
        self.out = nn.Identity() if out_dim is None else nn.Linear(dim, out_dim)
        self.out_dim = dim if out_dim is None else out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, W, C, S, S), oldest frame first -> (B, out_dim)."""
        tokens = self.embed(x.transpose(1, 2)).flatten(2).transpose(1, 2)
        return self.out(self.norm(self.blocks(tokens)).mean(dim=1))
