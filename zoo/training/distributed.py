"""Data-parallel training under `torchrun` (gloo on CPU, NCCL on GPU).

`torchrun --nproc_per_node 2 -m zoo finetune ...` starts one process per device. Each process
holds a full copy of G and D and draws its own share of the global batch (`batch_size / world`
images, a disjoint slice of the same shuffled order). After each backward pass the gradients are
averaged across processes with one all-reduce per network (flattened into a single buffer), so
every process applies the same update and the weights stay identical without wrapping G and D in
DistributedDataParallel (a GAN calls D in both steps and toggles requires_grad, which DDP's
hooks handle poorly). Only rank 0 writes files; the others wait at barriers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """grad <- mean over processes, one all-reduce for all of them."""
        if not self.enabled:
            return
        for p in params:  # every process must all-reduce the same sizes, used or not
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Make every process start from rank 0's weights and buffers."""
        if self.enabled:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def check_in_sync(self, module: torch.nn.Module, what: str) -> None:
        """Raise if the processes' weights differ (they must: every update is averaged)."""
        if not self.enabled:
            return
        with torch.no_grad():
            total = torch.stack([p.detach().double().abs().sum() for p in module.parameters()]).sum()
        lo, hi = total.clone().reshape(1), total.clone().reshape(1)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if not torch.equal(lo, hi):
            raise RuntimeError(
                f"data-parallel processes are out of sync: {what} weights differ (checksums {lo.item()} .. {hi.item()})"
            )

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        """True on every process when it is true on any (e.g. a NaN loss on one rank)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


def setup(device: str | None = None) -> tuple[Dist, torch.device]:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank), dev


def teardown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
