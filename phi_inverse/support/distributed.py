"""Data-parallel training: PyTorch processes under `torchrun`, JAX devices of one process.

Every worker trains on its shard of the same seeded global batch `B`: worker `r` of `N` gets the rows
`r·B/N … (r+1)·B/N`. With each worker's loss the mean over its shard, the mean of the workers' gradients is the
gradient of the global-batch mean loss, so `N` workers take the same optimizer steps as one process with batch `B`
(up to the order of floating-point sums). Batch normalisation uses the statistics of the global batch.

* PyTorch: `torchrun` sets `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT`; `setup()` joins the
  process group (NCCL on GPUs, Gloo on CPUs). `parallelize()` converts batch norm to `SyncBatchNorm` and wraps the
  network in `DistributedDataParallel`, which averages the gradients during the backward pass. A loss compiled with
  `math.jit_compile` is a `torch.jit` trace that records the network's operations without DDP's hooks, so DDP
  would synchronise only the tracing call; for such a loss the optimizer averages the gradients instead.
* JAX: `setup(devices=N)` lays a one-axis `jax.sharding.Mesh` over `N` local devices; `shard()` splits the batch
  over it, `parallelize()` replicates parameters and optimizer state, and `jax.jit` partitions the compiled
  step over the devices (SPMD), reducing gradients and batch statistics over the global batch by itself.
  Steps must be compiled: run eagerly, the collectives of consecutive operations can deadlock on XLA's CPU runtime.
"""
import contextlib
import os
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Optional

from phi.field import Field
from phiml import math
from phiml.backend import default_backend

from .checkpoint import Checkpoint

MESH_AXIS = 'batch'


@dataclass(frozen=True)
class World:
    """The workers of a data-parallel run.

    Attributes:
        size: Number of workers (processes on PyTorch, devices on JAX); 1 without data parallelism.
        rank: This process's worker index; 0 on JAX, where one process drives every device.
        local_rank: Index of this process on its node (selects its GPU).
        backend: `'gloo'`, `'nccl'`, `'jax.sharding'` or `'none'`.
        mesh: The `jax.sharding.Mesh` over the devices (JAX only).
    """
    size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str = 'none'
    mesh: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> dict:
        """`{'world_size': …, 'backend': …}`, as recorded in `metrics.json`."""
        return {'world_size': self.size, 'backend': self.backend}


_CURRENT = [World()]
_SYNCHRONISED = [True]


def world() -> World:
    """The world set up by `setup()`; a single worker before."""
    return _CURRENT[0]


def is_main() -> bool:
    """Whether this process evaluates, prints, writes `metrics.json` and checkpoints (rank 0)."""
    return world().is_main


def requested_processes() -> int:
    """`WORLD_SIZE` as `torchrun` sets it; 1 outside `torchrun`."""
    return int(os.environ.get('WORLD_SIZE', '1'))


def setup(devices: int = 1) -> World:
    """Sets up data parallelism for the default backend; call it once, after selecting the backend.

    Args:
        devices: JAX: number of local devices to shard the batch over. PyTorch takes its workers from `torchrun`.

    Returns:
        The `World`, also returned by `world()` from now on.
    """
    backend = default_backend().name
    processes = requested_processes()
    if devices < 1:
        raise ValueError(f"devices must be >= 1 but got {devices}.")
    if backend == 'torch' and devices == 1:
        _CURRENT[0] = _torch_world() if processes > 1 else World()
    elif backend == 'jax' and processes == 1:
        from . import sharding
        _CURRENT[0] = sharding.device_world(devices) if devices > 1 else World()
    elif processes > 1 or devices > 1:
        raise ValueError(f"Data parallelism runs PyTorch under torchrun (--nproc_per_node N) or JAX with --devices N, "
                         f"but got backend {backend} with {processes} processes and {devices} devices.")
    else:
        _CURRENT[0] = World()
    return _CURRENT[0]


def _torch_world() -> World:
    import torch
    import torch.distributed as dist
    rank, size, local_rank = (int(os.environ[key]) for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'))
    on_gpu = default_backend().get_default_device().device_type == 'GPU' and torch.cuda.is_available()
    if on_gpu:
        _use_local_gpu(local_rank)
    if not dist.is_initialized():
        dist.init_process_group('nccl' if on_gpu else 'gloo')
    return World(size, rank, local_rank, dist.get_backend())


def _use_local_gpu(local_rank: int):
    """GPU `local_rank` of the node, or the only one visible (a launcher that sets `CUDA_VISIBLE_DEVICES` per process)."""
    import torch
    gpus = default_backend().list_devices('GPU')
    index = 0 if len(gpus) == 1 else local_rank
    if index >= len(gpus):
        raise RuntimeError(f"Process {local_rank} of this node has no GPU of its own: {len(gpus)} visible. "
                           f"Start at most {len(gpus)} processes per node (torchrun --nproc_per_node).")
    torch.cuda.set_device(index)
    default_backend().set_default_device(gpus[index])


def shutdown():
    """Waits for every worker, then leaves the process group or releases the JAX devices (no-op for one worker)."""
    if world().backend in ('gloo', 'nccl'):
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    elif world().mesh is not None:
        from . import sharding
        sharding.release()
    _CURRENT[0] = World()


def barrier():
    """Blocks until every PyTorch worker arrives (no-op on JAX and single workers)."""
    if world().backend in ('gloo', 'nccl'):
        import torch.distributed as dist
        dist.barrier()


def mean_over_workers(value: float) -> float:
    """The mean of a number over all PyTorch workers, e.g. the training loss of the global batch (the same on every
    worker, so all of them see a divergence at the same step). JAX losses are global already; returned as is."""
    if world().backend not in ('gloo', 'nccl'):
        return float(value)
    import torch
    import torch.distributed as dist
    device = 'cuda' if world().backend == 'nccl' else 'cpu'
    total = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item()) / world().size


def main_decides(value):
    """Rank 0's `value` (any picklable object) on every worker, for decisions all must take alike (e.g. stopping
    when a time budget is spent, measured on each worker's own clock)."""
    if world().backend not in ('gloo', 'nccl'):
        return value
    import torch.distributed as dist
    message = [value]
    dist.broadcast_object_list(message, src=0)
    return message[0]


def shard(value, dim: Optional[str] = None, world_: Optional[World] = None):
    """This worker's part of a global batch.

    Args:
        value: A `Tensor`, `Field`, a dataclass of them (e.g. a scene's `Batch`), or a tuple, list or dict of these.
            Leaves without `dim` (e.g. a shared time axis) are kept whole.
        dim: Batch dimension to split; default: the first batch dimension of the first `Tensor` or `Field`.
        world_: Defaults to `world()`.

    Returns:
        PyTorch: rows `r·B/N … (r+1)·B/N` of every leaf for rank `r` of `N`. JAX: every leaf as a global array laid
        out over the mesh, rows `d·B/N …` on device `d`. Unchanged for a single worker.

    Raises:
        ValueError: When the global batch size `B` is not divisible by the number of workers `N`.
    """
    world_ = world_ or world()
    if world_.size == 1:
        return value
    dim = dim or _first_batch_dim(value)
    if dim is None:
        raise ValueError(f"Cannot shard {type(value).__name__}: it holds no Tensor or Field with a batch dimension.")
    if world_.mesh is not None:
        from . import sharding
        return _map_leaves(lambda leaf: sharding.lay_out(leaf, dim, world_), value)
    return _map_leaves(lambda leaf: _rows_of_rank(leaf, dim, world_), value)


def _rows_of_rank(leaf, dim: str, world_: World):
    if dim not in leaf.shape:
        return leaf
    start, stop = shard_bounds(leaf.shape.get_size(dim), world_)
    return leaf[{dim: slice(start, stop)}]


def shard_bounds(global_size: int, world_: World):
    """`(start, stop)` of the rows of `world_.rank`; raises `ValueError` unless `world_.size` divides `global_size`."""
    if global_size % world_.size:
        raise ValueError(f"The global batch of {global_size} examples does not split evenly over {world_.size} workers; "
                         f"choose a batch size divisible by {world_.size}.")
    per_worker = global_size // world_.size
    return world_.rank * per_worker, (world_.rank + 1) * per_worker


def _map_leaves(f, value):
    if isinstance(value, (math.Tensor, Field)):
        return f(value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{item.name: _map_leaves(f, getattr(value, item.name)) for item in fields(value) if item.init})
    if isinstance(value, (tuple, list)):
        return type(value)(_map_leaves(f, item) for item in value)
    if isinstance(value, dict):
        return {key: _map_leaves(f, item) for key, item in value.items()}
    return value


def _first_batch_dim(value) -> Optional[str]:
    found = []

    def visit(leaf):
        if not found and leaf.shape.batch:
            found.append(leaf.shape.batch.names[0])
        return leaf
    _map_leaves(visit, value)
    return found[0] if found else None


def parallelize(net, optimizer, compiled_loss: bool = False, world_: Optional[World] = None):
    """The network and optimizer to train with on every worker.

    Call it on every worker after creating `net` and `optimizer` and before training. `net` and `optimizer` stay
    the objects to checkpoint and evaluate: batch norm layers of `net` are converted in place, the returned
    network shares its parameters.

    Args:
        net: PhiML network of the default backend, identically initialised on every worker.
        optimizer: Its optimizer.
        compiled_loss: Whether the loss that calls the network is `math.jit_compile`d. Required on JAX.

    Returns:
        `(network, optimizer)` for `phiml.nn.update_weights` and `math.native_call`. PyTorch: the network wrapped
        in `DistributedDataParallel` (or, for a compiled loss, the network and an optimizer that averages the
        gradients before each step). JAX: `net` and `optimizer` with replicated parameters and state.

    Raises:
        ValueError: On JAX with several devices, unless `compiled_loss`.
    """
    world_ = world_ or world()
    if world_.size == 1:
        return net, optimizer
    if world_.mesh is not None:
        if not compiled_loss:
            raise ValueError("JAX runs data-parallel steps only compiled (jit): eager steps over several devices can "
                             "deadlock XLA's collectives. Compile the training step (--jit).")
        from . import sharding
        sharding.replicate(net, optimizer, world_)
        return net, optimizer
    from . import torch_parallel
    return torch_parallel.parallelize(net, optimizer, compiled_loss, world_)


def unwrap(net):
    """The network inside a `DistributedDataParallel` wrapper; other networks as they are."""
    return getattr(net, 'module', net) if type(net).__name__ == 'DistributedDataParallel' else net


@contextlib.contextmanager
def unsynchronised():
    """Within this context, synchronised batch norm uses the local batch, so one worker can run the network alone."""
    previous = _SYNCHRONISED[0]
    _SYNCHRONISED[0] = False
    try:
        yield
    finally:
        _SYNCHRONISED[0] = previous


def synchronised() -> bool:
    """Whether synchronised batch norm layers currently gather statistics over all workers."""
    return _SYNCHRONISED[0]


def main_only_evaluation(evaluate, world_: Optional[World] = None):
    """`evaluate` run by the main worker alone (with local batch norm); other workers get `{}` without evaluating."""
    def evaluate_on_main():
        if not (world_ or world()).is_main:
            return {}
        with unsynchronised():
            return evaluate()
    return evaluate_on_main


class ReadOnlyCheckpoint(Checkpoint):
    """A checkpoint that restores like `Checkpoint` but never writes: what non-main workers resume from."""

    def save(self, progress: dict):
        pass


def main_only_checkpoint(checkpoint: Optional[Checkpoint], world_: Optional[World] = None) -> Optional[Checkpoint]:
    """`checkpoint` on the main worker; on the others a read-only view of the same directory, to resume from."""
    if checkpoint is None or (world_ or world()).is_main:
        return checkpoint
    return ReadOnlyCheckpoint(checkpoint.directory, checkpoint.objects)
