"""`Backbone`: the timm feature extractor that turns face crops into the maps a variant needs."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn


class Backbone(nn.Module):
    """timm ``features_only`` backbone returning the ``num_scales`` coarsest feature maps.

    Channels and map sizes come from timm's ``feature_info``; the maps are named
    ``feat_<side>`` (``feat_28``, ``feat_14``, ``feat_7`` at 224 px), finest first.

    Args:
        name: timm model name.
        num_scales: how many of the last backbone stages to return.
        input_size: side of the square input crop in pixels.
        weights: optional local safetensors file of the timm model's weights.
        cache_channels: if set, maps wider than this go through a 1×1 convolution to this width.
    """

    def __init__(
        self,
        name: str,
        num_scales: int,
        input_size: int,
        weights: str | Path | None = None,
        cache_channels: int | None = None,
    ) -> None:
        super().__init__()
        out_indices = tuple(range(-num_scales, 0))
        self.body = timm.create_model(
            name, pretrained=False, features_only=True, out_indices=out_indices
        )
        if weights is not None:
            load_backbone_weights(self.body, Path(weights))
        info = self.body.feature_info
        sides = [input_size // r for r in info.reduction()]
        self.names = tuple(f"feat_{s}" for s in sides)
        self.sizes = dict(zip(self.names, sides, strict=True))
        self.reduce = nn.ModuleDict(
            {
                n: nn.Conv2d(c, cache_channels, kernel_size=1)
                for n, c in zip(self.names, info.channels(), strict=True)
                if cache_channels is not None and c > cache_channels
            }
        )
        self.channels = {
            n: self.reduce[n].out_channels if n in self.reduce else c
            for n, c in zip(self.names, info.channels(), strict=True)
        }
        # the stage producing the coarsest map: the only one trained when early stages freeze
        self.last_stage = info.module_name()[-1]
        data_config = timm.data.resolve_data_config({}, model=self.body)
        self.mean = tuple(float(m) for m in data_config["mean"])
        self.std = tuple(float(s) for s in data_config["std"])

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map normalised images (B, 3, H, W) to {name: (B, C, S, S)}."""
        maps = dict(zip(self.names, self.body(images), strict=True))
        return {n: self.reduce[n](m) if n in self.reduce else m for n, m in maps.items()}

    def early_stage_parameters(self) -> list[nn.Parameter]:
        """Parameters of the stem and every stage before the last one."""
        prefix = self.last_stage + "."
        return [p for n, p in self.body.named_parameters() if not n.startswith(prefix)]

    def early_stage_modules(self) -> list[nn.Module]:
        """Every module of the stem and the stages before the last one (kept in eval mode).

        Containers too (timm's ``BatchNormAct2d`` has children), but none that holds the last
        stage, so ``module.eval()`` on each never reaches the trainable stage.
        """
        last = self.body.get_submodule(self.last_stage)
        inside_last = set(map(id, last.modules()))
        holding_last = {
            id(m)
            for m in self.body.modules()
            if m is not last and any(c is last for c in m.modules())
        }
        return [
            m
            for m in self.body.modules()
            if id(m) not in inside_last and id(m) not in holding_last
        ]


def load_backbone_weights(body: nn.Module, path: Path) -> None:
    """Load a timm safetensors weights file into a ``features_only`` model.

    Keys the features model lacks (the classifier head) are ignored; a missing or misshapen
    backbone tensor raises ValueError naming the file.
    """
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise ValueError(f"cannot read backbone weights {path}: {err}") from err
    own = body.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ValueError(
            f"backbone weights {path} do not fit this backbone: missing {missing[:3]}, "
            f"wrong shape {wrong[:3]} (of {len(missing)} missing, {len(wrong)} misshapen); "
            "give the timm safetensors file of the same model name"
        )
    body.load_state_dict({k: state[k] for k in own})
