"""Weak scaling of data-parallel training: time per Poisson SIP step on 1 and N workers, per-worker batch fixed.

    python benchmarks/scaling.py [--workers 2] [--batch 16] [--res 32] [--repeat 10] [--backends torch,jax]

PyTorch workers are processes started by torchrun (Gloo on CPUs, NCCL on GPUs); JAX workers are the devices of
one process (host devices on the CPU), which runs the compiled step SPMD. Both runs train the Poisson U-net with
SIP from the same initialisation on global batches of `workers × batch` examples. The row's ratio is
`t(N) / t(1)`, the inverse of the weak-scaling efficiency `t(1) / t(N)`: 1 when every worker has a core or GPU
of its own and communication is free.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from table import print_table, row  # noqa: E402

RESULT = 'SECONDS_PER_STEP'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(workers: int = 2, batch: int = 16, res: int = 32, repeat: int = 10, names=('torch', 'jax')) -> list:
    """One row per backend: median seconds per step on one worker (baseline) and on `workers` workers (value)."""
    table = []
    for name in names:
        one, many = (_seconds_per_step(name, count, workers, batch, res, repeat) for count in (1, workers))
        unit = 'torchrun processes' if name == 'torch' else 'JAX devices'
        table.append(row(f'Poisson SIP step {res}x{res}, {batch} examples per worker: {workers} / 1 {unit}', one, many,
                         aim='≈ 1 (efficiency = 1 / ratio)'))
    return table


def _seconds_per_step(name: str, count: int, devices_visible: int, batch: int, res: int, repeat: int) -> float:
    options = ['--worker', '--backends', name, '--batch', str(batch), '--res', str(res), '--repeat', str(repeat)]
    environment = {**os.environ, 'PYTHONPATH': ROOT + os.pathsep + os.environ.get('PYTHONPATH', '')}
    if name == 'torch':
        command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(count), __file__]
    else:
        command = [sys.executable, __file__, '--workers', str(count)]
        environment['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices_visible}'
    done = subprocess.run(command + options, capture_output=True, text=True, env=environment)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        raise RuntimeError(f"{name} with {count} workers failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1].split(' ', 1)[1])


def worker(name: str, devices: int, batch: int, res: int, repeat: int):
    """Times training steps as one worker (under torchrun) or over `devices` JAX devices; rank 0 prints the median."""
    from phi import math

    from phi_inverse.experiments.scenes.poisson import PoissonScene
    from phi_inverse.experiments.timing import median_seconds
    from phi_inverse.support import backends, distributed
    backends.select(name)
    world = distributed.setup(devices=devices if name == 'jax' else 1)
    scene = PoissonScene(res=res)
    method = scene.methods['sip']
    math.seed(0)
    net = scene.network()
    step = sharded_step(scene, method, net, method.make_optimizer(net), world.size * batch, jit=name == 'jax')
    counter = itertools.count()
    seconds = median_seconds(lambda: step(next(counter)), repeat, warmup=3)
    if distributed.is_main():
        print(RESULT, json.dumps(seconds), flush=True)
    distributed.shutdown()


def sharded_step(scene, method, net, optimizer, global_batch: int, jit: bool, seed: int = 0):
    """`step(i) -> loss`: every worker draws the global batch `i`, trains on its shard; gradients are averaged."""
    from phi import math
    from phiml import nn

    from phi_inverse import sip
    from phi_inverse.experiments.scenes.base import data_seed
    from phi_inverse.support import distributed
    train_net, train_optimizer = distributed.parallelize(net, optimizer, compiled_loss=jit)

    def loss_function(batch):
        loss, _ = scene.sip_loss(scene.predict(train_net, batch), batch)
        return sip.batch_mean(loss)
    objective = math.jit_compile(loss_function) if jit else loss_function

    def step(i: int):
        batch = distributed.shard(scene.sample(global_batch, data_seed(seed, 1, i)))
        return nn.update_weights(train_net, train_optimizer, objective, batch)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workers', type=int, default=2, help='workers of the parallel run')
    parser.add_argument('--batch', type=int, default=16, help='examples per worker and step')
    parser.add_argument('--res', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=10, help='timed steps per run')
    parser.add_argument('--backends', default='torch,jax', help='comma-separated: torch, jax')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.backends.split(',') if name.strip()]
    if args.worker:
        return worker(names[0], args.workers, args.batch, args.res, args.repeat)
    table = rows(args.workers, args.batch, args.res, args.repeat, names)
    print_table(f'Weak scaling of data-parallel training ({args.workers} workers)', table)
    return table


if __name__ == '__main__':
    main()
