"""A stand-in for the paper code's model (PRVSL/abaw-8th ``ABAWModel``), written here from its
description, for the import tests: the same module tree and parameter names, the same maths
(tokens ``(h w t)``, patches flattened ``(p1 p2 pt c)``, pre-norm residuals, kernel-1 Conv1d
token MLP), none of their code. Random weights, BatchNorm statistics included."""

from __future__ import annotations

import timm
import torch
from torch import nn

BACKBONE = "mobilenetv4_conv_small"
# name, map side at 224 px, channels, spatial patch: their three mixers, finest first.
MIXERS = (("mid_mixer", 28, 64, 4), ("low_mixer", 14, 96, 2), ("last_mixer", 7, 960, 1))
OUTPUTS = {"VA": 2, "AU": 12, "EXPR": 8}


class FramesToChannels(nn.Module):
    """(b, t, c, h, w) -> (b, c, t, h, w)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class Patches(nn.Module):
    """(b, c, T, H, W) -> (b, tokens ordered (h w t), patch values ordered (p1 p2 pt c))."""

    def __init__(self, patch: int, time_patch: int) -> None:
        super().__init__()
        self.patch, self.time_patch = patch, time_patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, frames, height, width = x.shape
        p, pt = self.patch, self.time_patch
        x = x.reshape(b, c, frames // pt, pt, height // p, p, width // p, p)
        # axes now: b c t pt h p1 w p2
        x = x.permute(0, 4, 6, 2, 5, 7, 3, 1)
        return x.reshape(b, (height // p) * (width // p) * (frames // pt), p * p * pt * c)


class MeanTokens(nn.Module):
    """(b, n, c) -> (b, c)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


class PreNormResidual(nn.Module):
    """x + fn(norm(x)); parameters named ``fn.*`` and ``norm.*``."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.fn, self.norm = fn, nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x)) + x


def feed_forward(width: int, expansion: float, layer: type[nn.Module]) -> nn.Sequential:
    """layer, GELU, dropout, layer, dropout (indices 0 and 3 hold the weights)."""
    hidden = int(width * expansion)
    make = (lambda i, o: nn.Conv1d(i, o, kernel_size=1)) if layer is nn.Conv1d else layer
    return nn.Sequential(
        make(width, hidden), nn.GELU(), nn.Dropout(0.0), make(hidden, width), nn.Dropout(0.0)
    )


def mixer_3d(
    side: int,
    frames: int,
    channels: int,
    patch: int,
    time_patch: int = 4,
    dim: int = 256,
    depth: int = 1,
    out_dim: int = 256,
) -> nn.Sequential:
    """Their mixer as one nn.Sequential: rearranges at 0 and 1, the embedding at 2."""
    tokens = (side // patch) ** 2 * (frames // time_patch)
    blocks = [
        nn.Sequential(
            PreNormResidual(dim, feed_forward(tokens, 4, nn.Conv1d)),
            PreNormResidual(dim, feed_forward(dim, 0.5, nn.Linear)),
        )
        for _ in range(depth)
    ]
    return nn.Sequential(
        FramesToChannels(),
        Patches(patch, time_patch),
        nn.Linear(time_patch * patch * patch * channels, dim),
        *blocks,
        nn.LayerNorm(dim),
        MeanTokens(),
        nn.Linear(dim, out_dim),
    )


class PaperLayoutModel(nn.Module):
    """Backbone, the last ``n_mixer`` mixers and a classifier for ``task``, as theirs."""

    def __init__(
        self, task: str = "VA", seq_len: int = 8, n_mixer: int = 3, depth: int = 1
    ) -> None:
        super().__init__()
        self.task, self.seq_len = task, seq_len
        self.backbone = timm.create_model(BACKBONE, pretrained=False, features_only=True)
        self.used = MIXERS[3 - n_mixer :]
        for name, side, channels, patch in self.used:
            setattr(self, name, mixer_3d(side, seq_len, channels, patch, depth=depth))
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(256 * n_mixer, OUTPUTS[task])

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, 224, 224) -> (B, outputs): one estimate per window."""
        batch = clip.shape[0]
        maps = self.backbone(clip.flatten(0, 1))[-len(self.used) :]
        pooled = [
            getattr(self, name)(m.reshape(batch, self.seq_len, -1, side, side))
            for (name, side, _, _), m in zip(self.used, maps, strict=True)
        ]
        out = self.classifier(self.dropout(torch.cat(pooled, dim=-1)))
        return torch.tanh(out) if self.task == "VA" else out


@torch.no_grad()
def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Random norm parameters and BatchNorm statistics too (defaults would hide mistakes)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
            module.weight.uniform_(0.5, 1.5)
            module.bias.normal_(0.0, 0.1)
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def lightning_checkpoint(model: PaperLayoutModel, n_mixer: int) -> dict:
    """What PyTorch Lightning's ModelCheckpoint(save_weights_only=True) saves for it."""
    checkpoint_state = {
        "monitor": "val_metric",
        "best_model_score": torch.tensor(0.41),
        "best_model_path": "lightning_logs/version_0/checkpoints/e3.ckpt",
        "best_k_models": {"e3.ckpt": torch.tensor(0.41)},
        "kth_value": torch.tensor(0.41),
        "last_model_path": "",
    }
    stopping_state = {
        "wait_count": 0,
        "stopped_epoch": 0,
        "best_score": torch.tensor(0.41),
        "patience": 3,
    }
    return {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "2.5.1",
        "state_dict": model.state_dict(),
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_progress": {
                    "total": {"ready": 4, "started": 4, "processed": 4, "completed": 3}
                },
            }
        },
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_metric', 'mode': 'max'}": checkpoint_state,
            "EarlyStopping{'monitor': 'val_metric', 'mode': 'max'}": stopping_state,
        },
        "hparams_name": "kwargs",
        "hyper_parameters": {
            "task": model.task,
            "seq_len": model.seq_len,
            "learning_rate": 5e-4,
            "focal_alpha": 0.75,
            "focal_gamma": 2.0,
            "label_smoothing": 0.1,
            "wd": 2e-5,
            "threshold": 0.5,
            "batch_size": 128,
            "n_mixer": n_mixer,
        },
    }
