"""Frozen-backbone feature cache: run the frozen encoder prefix once per frame, train the rest.

With ``freeze_early_stages`` the stem and every backbone stage but the last never change while
training, so their outputs are computed once per frame (no grad, batched) and kept in RAM as
float16: the maps the variant takes from frozen stages (``feat_28``, ``feat_14``) and the
input of the trainable last stage. Each training step then runs only that last stage, the
optional 1×1 reduction, the temporal mixers and the heads.

Trade-off: the cache fixes the pixels, so pixel-level augmentation (flips, colour, noise) is
impossible while it is on; augment when rendering the data instead, or at feature level
(`augment.FeatureAugment`). Memory per frame: 7×7×128 values for ``single``, plus 14×14×96
for ``two`` and 28×28×64 for ``three`` (about 12, 49 and 147 KB as float16).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from affect_perception.model.affect_model import AffectModel

# Key of the trainable last stage's input in a cached frame.
LAST_STAGE_INPUT = "last_stage_input"
# dtype of the cached maps (halves the memory; the frozen maps need no more precision).
CACHE_DTYPE = torch.float16


class _PrefixDone(Exception):
    """Raised by the hook before the last stage, so the prefix pass never runs it."""


class FrozenSplit:
    """An `AffectModel`'s encoder cut at the input of its trainable last backbone stage.

    ``suffix(prefix(x))`` equals ``model.encode(x)`` (up to the float16 rounding of a cache).

    Args:
        model: a model built with ``freeze_early_stages=True``.
    """

    def __init__(self, model: AffectModel) -> None:
        if not model.config.freeze_early_stages:
            raise ValueError(
                "the feature cache needs freeze_early_stages=True: with a trainable "
                "backbone every frame must be encoded in every step; turn the "
                "cache off (feature_cache: false)"
            )
        self.model = model
        backbone = model.backbone
        self.last_stage = backbone.body.get_submodule(backbone.last_stage)
        # every map but the coarsest comes out of a frozen stage
        self.frozen_names = backbone.names[:-1]
        self.last_name = backbone.names[-1]

    @torch.no_grad()
    def prefix(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised crops (B, 3, H, W) -> the frozen maps and the last stage's input."""
        captured: dict[str, torch.Tensor] = {}

        def stop(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            captured[LAST_STAGE_INPUT] = args[0]
            raise _PrefixDone

        self.model.train(self.model.training)  # frozen stages normalise with fixed statistics
        maps: dict[str, torch.Tensor] = {}
        hooks = [self.last_stage.register_forward_pre_hook(stop)]
        body = self.model.backbone.body
        modules = dict(body.named_modules())
        for name, module_name in zip(self.frozen_names, self._frozen_module_names(), strict=True):
            hooks.append(
                modules[module_name].register_forward_hook(
                    lambda _m, _a, out, name=name: maps.__setitem__(name, out)
                )
            )
        try:
            body(images)
        except _PrefixDone:
            pass
        finally:
            for hook in hooks:
                hook.remove()
        return {**maps, LAST_STAGE_INPUT: captured[LAST_STAGE_INPUT]}

    def suffix(self, cached: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Cached frames {key: (B, C, S, S)} -> encoder maps {name: (B, C, S, S)}, with grad."""
        dtype = next(self.last_stage.parameters()).dtype
        maps = {n: cached[n].to(dtype) for n in self.frozen_names}
        maps[self.last_name] = self.last_stage(cached[LAST_STAGE_INPUT].to(dtype))
        reduce = self.model.backbone.reduce
        return {n: reduce[n](m) if n in reduce else m for n, m in maps.items()}

    def _frozen_module_names(self) -> list[str]:
        """Backbone module names producing the frozen maps, in feature order."""
        names = self.model.backbone.body.feature_info.module_name()
        return names[-len(self.model.feature_names) : -1]


def build_cache(
    split: FrozenSplit,
    videos: Iterable[tuple[str, int]],
    load_frames: Callable[[str, np.ndarray], torch.Tensor],
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, dict[str, torch.Tensor]]:
    """Run the frozen prefix over every frame of every video.

    Args:
        split: the model's frozen split.
        videos: (video name, frame count) pairs.
        load_frames: ``load_frames(video, frame_indices)`` -> normalised (B, 3, H, W) crops.
        batch_size: frames per prefix pass.
        progress: show a tqdm bar.

    Returns:
        {video: {key: (F, C, S, S) float16}}.
    """
    videos = list(videos)
    cache: dict[str, dict[str, torch.Tensor]] = {}
    bar = tqdm(
        total=sum(n for _, n in videos),
        desc="caching frozen features",
        unit="frame",
        disable=not progress,
    )
    for video, count in videos:
        parts: dict[str, list[torch.Tensor]] = {}
        for start in range(0, count, batch_size):
            frames = np.arange(start, min(start + batch_size, count))
            for key, value in split.prefix(load_frames(video, frames)).items():
                parts.setdefault(key, []).append(value.to(CACHE_DTYPE))
            bar.update(len(frames))
        cache[video] = {k: torch.cat(v) for k, v in parts.items()}
    bar.close()
    return cache
