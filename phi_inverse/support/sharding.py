"""JAX data parallelism for `phi_inverse.support.distributed`: the batch sharded over local devices, SPMD steps.

One process drives `N` devices. The global batch is one `jax.Array` per tensor, laid out over a one-axis
`jax.sharding.Mesh` with `NamedSharding(mesh, P('batch'))`; parameters and optimizer state are replicated with
`NamedSharding(mesh, P())`. `jax.jit` then partitions the compiled step over the devices: each device computes its
rows, and reductions over the batch (the mean loss, batch statistics, hence the gradient) are global.

PhiML 1.16 compiles with `jax.jit(f, device=default_device)`, which pins the whole computation to one device and
gathers sharded inputs there; while a mesh is in use (`device_world()` … `release()`), it compiles without a device.
"""
import os
import sys

import numpy as np
from phiml import math

from . import distributed

HOST_DEVICES_FLAG = '--xla_force_host_platform_device_count'


def request_host_devices(count: int):
    """Lets JAX on the CPU present `count` devices. Effective only before JAX is imported."""
    if 'jax' in sys.modules:
        return
    flags = [flag for flag in os.environ.get('XLA_FLAGS', '').split() if not flag.startswith(HOST_DEVICES_FLAG)]
    os.environ['XLA_FLAGS'] = ' '.join(flags + [f'{HOST_DEVICES_FLAG}={count}'])


def device_world(devices: int) -> 'distributed.World':
    """A `World` of the first `devices` JAX devices, as a mesh with the axis `distributed.MESH_AXIS`."""
    import jax
    from jax.sharding import Mesh
    available = jax.devices()
    if devices > len(available):
        hint = (f" On the CPU, set XLA_FLAGS={HOST_DEVICES_FLAG}={devices} before JAX starts "
                f"(phi_inverse.support.sharding.request_host_devices)." if available[0].platform == 'cpu' else '')
        raise RuntimeError(f"Asked for {devices} devices but JAX sees {len(available)}: {available}.{hint}")
    _compile_without_device()
    return distributed.World(devices, 0, 0, 'jax.sharding', Mesh(np.array(available[:devices]), (distributed.MESH_AXIS,)))


def lay_out(leaf, dim: str, world):
    """`leaf` (Tensor or Field) with the values along `dim` split over the mesh; other leaves replicated on it."""
    if not isinstance(leaf, math.Tensor):
        return leaf.with_values(lay_out(leaf.values, dim, world))
    if dim in leaf.shape:
        distributed.shard_bounds(leaf.shape.get_size(dim), world)
        order = leaf.shape.only(dim) + leaf.shape.without(dim)
        return math.wrap(_put(leaf.native(order), world.mesh, distributed.MESH_AXIS), order)
    order = leaf.shape
    return math.wrap(_put(leaf.native(order), world.mesh, None), order)


def replicate(net, optimizer, world):
    """Places the parameters of `net` (a PhiML `StaxNet`) and the state of its `JaxOptimizer` on every device."""
    net.parameters = _put(net.parameters, world.mesh, None)
    state = optimizer._state
    optimizer._state = type(state)(_put(state.packed_state, world.mesh, None), state.tree_def, state.subtree_defs)


def _put(tree, mesh, axis):
    import jax
    from jax.sharding import NamedSharding, PartitionSpec
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec(axis) if axis else PartitionSpec()))


def release():
    """Restores PhiML's compilation for one device (functions compiled before keep their mode)."""
    from phiml.backend.jax._jax_backend import JaxBackend
    JaxBackend.jit_compile = getattr(JaxBackend.jit_compile, 'original', JaxBackend.jit_compile)


def _compile_without_device():
    import jax
    from phiml.backend.jax._jax_backend import JaxBackend
    if hasattr(JaxBackend.jit_compile, 'original'):
        return
    original = JaxBackend.jit_compile

    def jit_compile(self, f):
        compiled = jax.jit(f)

        def run(*args):
            return self.as_registered.call(compiled, *args, name=f"run jit-compiled '{f.__name__}'")
        run.__name__ = f"Jax-Jit({f.__name__})"
        return run
    jit_compile.original = original
    JaxBackend.jit_compile = jit_compile
