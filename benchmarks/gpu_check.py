"""GPU check: every scene trains the same seeded steps on the CPU and on the GPU; losses, step times, host copies.

On a machine with a CUDA GPU and PyTorch and JAX built for it (see "GPU check" in `docs/results.rst`):

    python benchmarks/gpu_check.py --backends torch,jax --steps 5

Without a GPU (or with `--smoke`) the same code runs with the CPU on both sides, so the loss comparison is trivial
and the time ratio is about 1; the output says "no GPU: smoke mode, CPU vs CPU".

For each scene and backend one method trains `warmup + steps` compiled steps from seed 0 on each device. Batches
are drawn from the same per-step seeds, so both devices see the same data, and the per-step losses must agree within
`--rtol` (float32 on different hardware). The step time is the median of the `steps` timed steps after the warm-up
(which traces the compiled update); each timed step ends with `float(loss)`, so asynchronous dispatch is included.

Host copies are counted in one extra probe step per device, around the update only (drawing and uploading the
batch before it and reading the loss with `float(loss)` after it are left out: that read is the one intended
device-to-host transfer of a step):

- JAX: the update runs under `jax.transfer_guard_device_to_host('disallow')`; the check reports whether it raised.
  Copies of CPU arrays are not transfers, so in smoke mode the guard cannot fire.
- PyTorch: the update runs under `torch.profiler`; the check counts `aten::_local_scalar_dense` events (a tensor
  read into a Python number, `.item()` / `float()`, on any device) and, with a GPU, `Memcpy DtoH` events.
  Other ways of reaching host memory (e.g. `.cpu()` of a whole tensor) are not counted.

The step is `methods.make_step`'s, without data parallelism, so that the update can be isolated from the loss read.
"""
import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

from phi_inverse.support import backends
from phi_inverse.experiments.methods import update_and_batches
from phi_inverse.experiments.scenes.base import TRAINING_STREAM, data_seed
from phi import math

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table import print_table  # noqa: E402

SMOKE_NOTE = 'no GPU: smoke mode, CPU vs CPU'


def _scenes(size: str) -> Dict[str, Tuple[Callable, str, int]]:
    """`{scene name: (make scene, method, batch size)}` at `size` `'tiny'` or `'paper'` (the scenes' defaults)."""
    from phi_inverse.experiments.scenes import exponential, fluid, heat, poisson, sine2d, stochastic_heat, toy_sde
    if size == 'paper':
        return {'poisson': (poisson.PoissonScene, 'sip', 128), 'heat': (heat.HeatScene, 'sip', 128),
                'fluid': (fluid.FluidScene, 'sip', 64), 'sine2d': (sine2d.Sine2DScene, 'sip', 128),
                'exponential': (exponential.ExponentialScene, 'newton', 128),
                'toy_sde': (toy_sde.ToySDEScene, 'multi-step', 256),
                'stochastic_heat': (stochastic_heat.StochasticHeatScene, 'smdp', 16)}
    return {'poisson': (lambda: poisson.PoissonScene(res=8), 'sip', 4),
            'heat': (lambda: heat.HeatScene(res=16), 'sip', 4),
            'fluid': (lambda: fluid.FluidScene(res=16, duration=.25, steps=1), 'sip', 2),
            'sine2d': (sine2d.Sine2DScene, 'sip', 8),
            'exponential': (exponential.ExponentialScene, 'newton', 8),
            'toy_sde': (lambda: toy_sde.ToySDEScene(trajectories=8, steps=10, test_paths=16), '1-step', 8),
            'stochastic_heat': (lambda: stochastic_heat.StochasticHeatScene(
                train_size=4, test_size=2, resolution=8, steps=4, filters=4, levels=1, window=2), 'smdp', 2)}


def has_gpu(name: str) -> bool:
    return bool(backends.get(name).list_devices('GPU'))


def train(backend: str, device: str, make_scene: Callable, method_name: str, batch_size: int,
          warmup: int, steps: int, jit: bool, seed: int = 0) -> dict:
    """Losses of all steps, median seconds of the timed ones, and the host-copy probe of one more update."""
    selected = backends.select(backend, device)
    scene = make_scene()
    method = scene.methods[method_name]
    total = warmup + steps + 1
    math.seed(seed)
    net = method.objective.network(scene)
    optimizer = method.make_optimizer(net, total)
    update, data = update_and_batches(scene, method, net, optimizer, batch_size, total, jit)
    losses, times = [], []
    for i in range(warmup + steps):
        start = time.perf_counter()
        losses.append(float(update(*data(i, data_seed(seed, TRAINING_STREAM, i)))))
        if i >= warmup:
            times.append(time.perf_counter() - start)
    batch = data(total - 1, data_seed(seed, TRAINING_STREAM, total - 1))
    probe = _probe_jax(update, batch) if backend == 'jax' else _probe_torch(update, batch) if backend == 'torch' else 'not counted'
    return dict(losses=losses, seconds=float(np.median(times)), device=backends.describe_device(selected), host_copies=probe)


def _probe_jax(update: Callable, batch: tuple) -> str:
    import jax
    try:
        with jax.transfer_guard_device_to_host('disallow'):
            loss = update(*batch)
    except Exception as error:  # the guard raises a backend-specific error type
        return f"transfer guard raised: {str(error).splitlines()[0][:60]}"
    float(loss)
    return 'transfer guard: none'


def _probe_torch(update: Callable, batch: tuple) -> str:
    import torch
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as profiler:
        loss = update(*batch)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    float(loss)
    names = [event.name for event in profiler.events()]
    scalar_reads = sum(name == 'aten::_local_scalar_dense' for name in names)
    copies = sum('Memcpy DtoH' in name for name in names)
    return f"_local_scalar_dense: {scalar_reads}, Memcpy DtoH: {copies if torch.cuda.is_available() else 'n/a'}"


def check(backend: str, scene: str, make_scene: Callable, method: str, batch_size: int,
          warmup: int, steps: int, rtol: float, smoke: bool, jit: bool = False) -> dict:
    """One row: the CPU run against the GPU run (or a second CPU run in smoke mode)."""
    cpu = train(backend, 'cpu', make_scene, method, batch_size, warmup, steps, jit)
    gpu = train(backend, 'cpu' if smoke else 'gpu', make_scene, method, batch_size, warmup, steps, jit)
    cpu_losses, gpu_losses = np.asarray(cpu['losses']), np.asarray(gpu['losses'])
    deviation = float(np.max(np.abs(gpu_losses - cpu_losses) / np.maximum(np.abs(cpu_losses), 1e-30)))
    devices = f"{cpu['device']} vs {gpu['device']}" + (' (smoke)' if smoke else '')
    return dict(name=f'{scene} {method} on {backend}, {devices}: step time', baseline=cpu['seconds'],
                value=gpu['seconds'], ratio=gpu['seconds'] / cpu['seconds'], aim='< 1' if not smoke else '~ 1 (smoke)',
                scene=scene, backend=backend, method=method, devices=devices, cpu_losses=cpu['losses'],
                gpu_losses=gpu['losses'], max_relative_deviation=deviation, agree=deviation <= rtol, rtol=rtol,
                cpu_host_copies=cpu['host_copies'], gpu_host_copies=gpu['host_copies'])


def rows(names=('torch',), scenes=None, size: str = 'tiny', warmup: int = 1, steps: int = 3, rtol: float = 1e-3,
         smoke: bool = None, jit: bool = False) -> List[dict]:
    """One row per backend and scene; `smoke=None` chooses smoke mode for a backend that sees no GPU."""
    table = []
    for backend in names:
        backend_smoke = (not has_gpu(backend)) if smoke is None else smoke
        for scene, (make_scene, method, batch_size) in _scenes(size).items():
            if scenes is None or scene in scenes:
                table.append(check(backend, scene, make_scene, method, batch_size, warmup, steps, rtol, backend_smoke, jit))
    return table


def print_report(table: List[dict]):
    if any('(smoke)' in row['devices'] for row in table):
        print(SMOKE_NOTE)
    print_table('Training step, GPU / CPU (median of the timed steps)', table)
    print('\nLosses per step (CPU | GPU), maximum relative deviation, host copies inside one update (CPU | GPU)')
    for row in table:
        verdict = 'agree' if row['agree'] else 'DISAGREE'
        print(f"{row['scene']:16s}{row['backend']:7s}{verdict:9s} max rel. dev. {row['max_relative_deviation']:.1e} "
              f"(rtol {row['rtol']:.0e})  {np.round(row['cpu_losses'], 6).tolist()} | {np.round(row['gpu_losses'], 6).tolist()}")
        print(f"{'':32s}host copies: {row['cpu_host_copies']} | {row['gpu_host_copies']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backends', default='torch', help='comma-separated, e.g. torch,jax')
    parser.add_argument('--scenes', default=None, help='comma-separated subset of ' + ','.join(_scenes('tiny')))
    parser.add_argument('--size', choices=('tiny', 'paper'), default='tiny')
    parser.add_argument('--steps', type=int, default=3, help='timed steps after the warm-up')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--rtol', type=float, default=1e-3)
    parser.add_argument('--jit', action='store_true', help="compile each update (the runner's --jit)")
    parser.add_argument('--smoke', action='store_true', help='CPU on both sides even when a GPU is present')
    args = parser.parse_args(argv)
    table = rows(args.backends.split(','), args.scenes and args.scenes.split(','), args.size, args.warmup, args.steps,
                 args.rtol, True if args.smoke else None, args.jit)
    print_report(table)
    return table


if __name__ == '__main__':
    main()
