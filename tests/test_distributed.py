"""Data-parallel training equals single-process training on the global batch.

Two Gloo workers (PyTorch, started with the environment variables torchrun sets) or two host devices (JAX)
train a small PhiML network for three steps on halves of a seeded global batch; the weights must match those of
one process training on the whole batch. With batch norm that requires global batch statistics: a control run
with local batch norm must differ.

The workers are this file run as a script: `python tests/test_distributed.py BACKEND NETWORK OUT [options]`.
"""
import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, GLOBAL_BATCH, RESOLUTION = 3, 32, 8
METADATA = ('world_size', 'backend', 'devices', 'local_batch', 'loss')
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- worker


def train(network: str, compiled: bool, local_batch_norm: bool = False) -> dict:
    """Trains `network` for `STEPS` steps on this worker's shards; returns its weights and how it ran."""
    from phiml import math, nn
    from phiml.backend import default_backend

    from phi_inverse.support import distributed
    math.seed(0)
    net = nn.mlp(4, 1, [16, 16]) if network == 'mlp' else nn.u_net(1, 1, levels=2, filters=4, batch_norm=True)
    optimizer = nn.sgd(net, 1e-1 if network == 'mlp' else 1e-2, momentum=.9)
    if local_batch_norm:  # control: averaged gradients, batch norm over the local shard only
        from torch.nn.parallel import DistributedDataParallel
        train_net, train_optimizer = DistributedDataParallel(net), optimizer
    else:
        train_net, train_optimizer = distributed.parallelize(net, optimizer, compiled_loss=compiled)

    def loss_function(x, y):
        return math.mean(math.l2_loss(math.native_call(train_net, x) - y), 'b')  # mean over this worker's examples

    objective = math.jit_compile(loss_function) if compiled else loss_function
    for step in range(STEPS):
        x, y = distributed.shard(global_batch(network, step))
        loss = distributed.mean_over_workers(float(nn.update_weights(train_net, train_optimizer, objective, x, y).numpy()))
    assert distributed.main_decides(distributed.world().rank) == 0
    weights = {name: np.asarray(value.numpy(value.shape)) for name, value in nn.get_parameters(distributed.unwrap(net)).items()}
    if distributed.is_main():  # evaluates alone, as the runner's rank 0 does
        with distributed.unsynchronised():
            prediction = math.native_call(net, global_batch(network, STEPS)[0])
            weights['prediction'] = prediction.numpy(prediction.shape)
    world = distributed.world()
    return dict(world_size=world.size, backend=world.backend, local_batch=x.shape.get_size('b'), loss=loss,
                devices=_devices_holding(net) if default_backend().name == 'jax' else 1, **weights)


def _devices_holding(net) -> int:
    import jax
    return len(jax.tree_util.tree_leaves(net.parameters)[0].sharding.device_set)


def global_batch(network: str, step: int):
    from phiml import math
    from phiml.math import batch, channel, spatial
    rng = np.random.default_rng(step)
    if network == 'mlp':
        x = rng.normal(size=(GLOBAL_BATCH, 4)).astype(np.float32)
        return math.tensor(x, batch('b'), channel('vector')), math.tensor(np.sin(x).sum(1, keepdims=True), batch('b'), channel('vector'))
    x = rng.normal(size=(GLOBAL_BATCH, RESOLUTION, RESOLUTION)).astype(np.float32)
    y = np.roll(x, 1, axis=1) ** 2
    return math.tensor(x, batch('b'), spatial('x,y')), math.tensor(y, batch('b'), spatial('x,y'))


def worker(backend: str, network: str, out: str, compiled: bool, devices: int, control: bool):
    """Trains on the whole batch alone (the reference; rank 0 only), then as a torchrun worker or over `devices`
    JAX devices, and with `control` once more with local batch norm; rank 0 saves all of it to `out`."""
    from phi_inverse.support import backends, distributed
    backends.limit_threads(backend, 1)
    backends.select(backend)
    results = {}
    if os.environ.get('RANK', '0') == '0':
        results.update({f'single.{key}': value for key, value in train(network, compiled).items()})
    distributed.setup(devices=devices)
    results.update({f'parallel.{key}': value for key, value in train(network, compiled).items()})
    if control:
        results.update({f'local.{key}': value for key, value in train(network, compiled, local_batch_norm=True).items()})
    if distributed.is_main():
        np.savez(out, **results)
    distributed.shutdown()


# ----------------------------------------------------------------------------- launching


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _environment(**variables) -> dict:
    environment = {**os.environ, 'PYTHONPATH': ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'XLA_FLAGS'):
        environment.pop(key, None)
    environment.update({key: str(value) for key, value in variables.items()})
    return environment


def _command(backend: str, network: str, out, compiled: bool, devices: int = 1, control: bool = False) -> list:
    return [sys.executable, os.path.abspath(__file__), backend, network, str(out), '--devices', str(devices)] \
        + (['--compiled'] if compiled else []) + (['--control'] if control else [])


def run_torch(tmp_path, network: str, compiled: bool, control: bool = False) -> dict:
    """Trains in two workers, wired as torchrun wires them; returns `{'single': …, 'parallel': …[, 'local': …]}`."""
    out = tmp_path / 'weights.npz'
    port = _free_port()
    logs = [tmp_path / f'rank{rank}.log' for rank in range(2)]
    workers = [subprocess.Popen(_command('torch', network, out, compiled, control=control), stdout=open(log, 'w'),
                                stderr=subprocess.STDOUT, env=_environment(RANK=rank, LOCAL_RANK=rank, WORLD_SIZE=2,
                                                                           MASTER_ADDR='127.0.0.1', MASTER_PORT=port))
               for rank, log in enumerate(logs)]
    _wait_all_or_kill(workers, timeout=240)
    assert all(w.returncode == 0 for w in workers), '\n'.join(f'rank {rank} exited with {w.returncode}:\n{log.read_text()}'
                                                             for rank, (w, log) in enumerate(zip(workers, logs)))
    return _results(out)


def _wait_all_or_kill(workers, timeout: float):
    """Waits for every worker; once one fails (or time runs out) the others, blocked in collectives, are killed."""
    deadline = time.monotonic() + timeout
    while any(w.poll() is None for w in workers):
        if time.monotonic() > deadline or any(w.poll() not in (None, 0) for w in workers):
            for w in workers:
                if w.poll() is None:
                    w.kill()
            break
        time.sleep(.2)
    for w in workers:
        w.wait()


def run_jax(tmp_path, network: str, compiled: bool) -> dict:
    """`{'single': …, 'parallel': …}`: trained on one device, then with the batch sharded over two host devices."""
    out = tmp_path / 'weights.npz'
    done = subprocess.run(_command('jax', network, out, compiled, devices=2), capture_output=True, timeout=240,
                          env=_environment(XLA_FLAGS='--xla_force_host_platform_device_count=2'))
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return _results(out)


def _results(out) -> dict:
    results = {}
    for key, value in np.load(out).items():
        run, name = key.split('.', 1)
        results.setdefault(run, {})[name] = value
    return results


def assert_same_weights(parallel: dict, single: dict):
    names = [key for key in single if key not in METADATA]
    assert names and set(names) == set(parallel) - set(METADATA)
    for name in names:
        np.testing.assert_allclose(parallel[name], single[name], err_msg=name, **TOLERANCE)


def max_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a if k not in METADATA)


# ----------------------------------------------------------------------------- tests

needs_torch = pytest.mark.skipif(importlib.util.find_spec('torch') is None, reason='needs PyTorch')
needs_jax = pytest.mark.skipif(importlib.util.find_spec('jax') is None, reason='needs JAX')


def test_ranks_get_consecutive_equal_shards_of_every_leaf_and_keep_leaves_without_the_batch_dimension():
    from dataclasses import dataclass
    from phi.field import CenteredGrid
    from phiml import math
    from phiml.math import batch, spatial
    from phi_inverse.support.distributed import World, shard

    @dataclass
    class Example:
        x: object
        y: object
        time: object = None
    grid = CenteredGrid(math.random_normal(batch(b=12), spatial(x=3, y=2)), x=3, y=2)
    example = Example(grid, {'target': math.random_normal(batch(b=12)), 'list': [grid.values]}, math.range(batch(t=5)))
    shards = [shard(example, world_=World(3, rank)) for rank in range(3)]
    assert all(part.x.shape.get_size('b') == 4 and part.time is example.time for part in shards)
    math.assert_close(math.concat([part.x.values for part in shards], 'b'), grid.values)
    math.assert_close(math.concat([part.y['target'] for part in shards], 'b'), example.y['target'])
    math.assert_close(shards[1].y['list'][0], grid.values.b[4:8])
    assert shard(example, world_=World()) is example


def test_a_global_batch_that_does_not_split_evenly_is_an_error():
    from phiml import math
    from phiml.math import batch
    from phi_inverse.support.distributed import World, shard
    with pytest.raises(ValueError, match='divisible by 3'):
        shard(math.zeros(batch(b=32)), world_=World(3, 1))
    with pytest.raises(ValueError, match='no Tensor or Field'):
        shard({'seed': 1}, world_=World(2, 0))


def test_a_single_process_world_describes_itself_and_leaves_network_and_optimizer_alone(torch_backend):
    from phiml import nn
    from phi_inverse.support import distributed
    world = distributed.setup()
    assert world.describe() == {'world_size': 1, 'backend': 'none'} and world.is_main
    net = nn.mlp(2, 1, [4])
    optimizer = nn.adam(net)
    assert distributed.parallelize(net, optimizer) == (net, optimizer) and distributed.unwrap(net) is net


def test_only_the_main_worker_evaluates_and_writes_checkpoints(tmp_path):
    from phi_inverse.support.checkpoint import Checkpoint
    from phi_inverse.support.distributed import World, main_only_checkpoint, main_only_evaluation
    checkpoint = Checkpoint(str(tmp_path / 'run'), {})
    main, other = World(2, 0), World(2, 1)
    assert main_only_checkpoint(checkpoint, main) is checkpoint
    main_only_checkpoint(checkpoint, other).save({'step': 1})
    assert not checkpoint.exists
    checkpoint.save({'step': 2})
    assert main_only_checkpoint(checkpoint, other).load() == {'step': 2}
    assert main_only_evaluation(lambda: {'x_mae': 1.}, main)() == {'x_mae': 1.}
    assert main_only_evaluation(lambda: {'x_mae': 1.}, other)() == {}


@needs_torch
@pytest.mark.parametrize('compiled', [False, True], ids=['eager', 'jit'])
def test_two_gloo_workers_train_an_mlp_like_one_process_on_the_global_batch(tmp_path, compiled):
    runs = run_torch(tmp_path, 'mlp', compiled)
    single, parallel = runs['single'], runs['parallel']
    assert int(parallel['world_size']) == 2 and str(parallel['backend']) == 'gloo'
    assert int(parallel['local_batch']) == GLOBAL_BATCH // 2 and int(single['local_batch']) == GLOBAL_BATCH
    assert_same_weights(parallel, single)
    np.testing.assert_allclose(parallel['loss'], single['loss'], rtol=1e-5, err_msg="the workers' mean loss is the global batch's")


@needs_torch
def test_two_gloo_workers_with_synchronised_batch_norm_train_like_one_process(tmp_path):
    runs = run_torch(tmp_path, 'unet', compiled=False, control=True)
    assert_same_weights(runs['parallel'], runs['single'])
    assert max_difference(runs['local'], runs['single']) > 100 * TOLERANCE['atol'], "the control with local batch norm should differ"


@needs_torch
def test_compiled_loss_with_synchronised_batch_norm_trains_like_one_process(tmp_path):
    runs = run_torch(tmp_path, 'unet', compiled=True)
    assert_same_weights(runs['parallel'], runs['single'])


@needs_jax
@pytest.mark.parametrize('network', ['mlp', 'unet'])
def test_two_jax_host_devices_train_like_one_device(tmp_path, network):
    runs = run_jax(tmp_path, network, compiled=True)
    single, parallel = runs['single'], runs['parallel']
    assert int(parallel['world_size']) == 2 and str(parallel['backend']) == 'jax.sharding'
    assert int(parallel['devices']) == 2 and int(single['devices']) == 1, "parameters should be replicated on both devices"
    assert int(parallel['local_batch']) == GLOBAL_BATCH, "on JAX a sharded batch is one global array"
    assert_same_weights(parallel, single)


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('backend', choices=('torch', 'jax'))
    parser.add_argument('network', choices=('mlp', 'unet'))
    parser.add_argument('out')
    parser.add_argument('--devices', type=int, default=1)
    parser.add_argument('--compiled', action='store_true')
    parser.add_argument('--control', action='store_true', help='also train with local batch norm')
    options = parser.parse_args()
    worker(options.backend, options.network, options.out, options.compiled, options.devices, options.control)
