"""torch.distributed set-up for ``torchrun``: one process per GPU (or CPU worker), DDP.

``torchrun --nproc_per_node N -m affect_perception.cli train ...`` (or over several machines
with ``--nnodes``) sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; a plain start is a world
of one and never touches torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the world."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that validates, logs and writes checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes in the environment (NCCL on CUDA, else gloo)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info


def device_for(requested: str) -> torch.device:
    """The training device: ``auto`` takes this process's CUDA device when there is one."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but torch sees no CUDA device; use cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def wrap(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``module`` in a world of several processes."""
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def mean_over_ranks(
    values: dict[str, float], info: DistInfo, device: torch.device
) -> dict[str, float]:
    """Average logged numbers over all processes."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / info.world_size).tolist(), strict=True))


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
