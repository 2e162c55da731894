"""DistributedDataParallel training: two CPU processes on the gloo backend, as torchrun runs it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from train_fixtures import synth_root, tiny_config

from affect_perception.train import distributed
from affect_perception.train.trainer import Trainer

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, root: Path, out: Path, port: int) -> None:
    """One torchrun-style process: the environment torchrun sets, then a short run."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_RANK=str(rank),
    )
    info = distributed.init_distributed(torch.device("cpu"))
    try:
        trainer = Trainer(tiny_config(root, out, epochs=1, steps_per_epoch=2), info)
        start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.fit()
        state = trainer.model.state_dict()
        torch.save(
            {
                "start": start,
                "end": state,
                "step": trainer.step,
                "videos": [v.name for v in trainer.train_videos],
            },
            out / f"rank{rank}.pt",
        )
    finally:
        distributed.cleanup(info)


def test_two_gloo_processes_stay_in_step(tmp_path):
    root = synth_root(tmp_path / "data", videos=4, frames=16)
    mp.spawn(_worker, args=(root, tmp_path / "run", _free_port()), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / "run" / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert [r["step"] for r in ranks] == [2, 2]
    # each process trains on its own share of the videos
    assert not set(ranks[0]["videos"]) & set(ranks[1]["videos"])
    changed = [
        k for k in ranks[0]["end"] if not torch.equal(ranks[0]["start"][k], ranks[0]["end"][k])
    ]
    assert changed, "training changed no weight"
    for key, value in ranks[0]["end"].items():
        if "running_" in key or "num_batches" in key:
            # BatchNorm statistics of each process's last batch: DDP broadcasts rank 0's
            # at the start of the next forward
            continue
        torch.testing.assert_close(value, ranks[1]["end"][key], msg=key)
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()
