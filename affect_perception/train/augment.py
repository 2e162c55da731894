"""Augmentation: per-segment pixel changes (cache off) and feature noise (cache on).

Every frame of a segment gets the same pixel change, so the motion the temporal model reads
stays intact. The synthetic data already varies pose, light, blur, noise and identity when it
is rendered; these add the changes a fixed data set lacks.
"""

from __future__ import annotations

import torch

# Largest change of brightness (added, in normalised units) and contrast (factor - 1).
BRIGHTNESS = 0.2
CONTRAST = 0.2
# Largest std of the added Gaussian pixel noise, in normalised units.
PIXEL_NOISE = 0.05
# Probability of a horizontal flip (AU, VA, EMI and A/H labels do not depend on the side).
FLIP_P = 0.5


def augment_pixels(clips: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random flip, brightness, contrast and noise, one draw per segment.

    Args:
        clips: (B, T, 3, H, W) normalised crops.
        generator: random source (None: torch's global one).
    """
    b = clips.shape[0]

    def uniform(scale: float) -> torch.Tensor:
        draw = torch.rand(b, 1, 1, 1, 1, generator=generator, device=clips.device)
        return (2 * draw - 1) * scale

    flip = torch.rand(b, generator=generator, device=clips.device) < FLIP_P
    out = torch.where(flip.view(b, 1, 1, 1, 1), clips.flip(-1), clips)
    mean = out.mean(dim=(2, 3, 4), keepdim=True)
    out = (out - mean) * (1 + uniform(CONTRAST)) + mean + uniform(BRIGHTNESS)
    noise = torch.randn(out.shape, generator=generator, device=clips.device)
    return out + noise * (uniform(PIXEL_NOISE).abs())


def augment_features(
    cached: dict[str, torch.Tensor], noise: float, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """Multiplicative Gaussian noise ``x * (1 + noise * N(0, 1))`` on cached maps."""
    if noise <= 0:
        return cached
    return {
        k: v
        * (1 + noise * torch.randn(v.shape, generator=generator, device=v.device, dtype=v.dtype))
        for k, v in cached.items()
    }
