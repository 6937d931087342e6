"""Navier–Stokes marker matching: SIP (reverse-time vortex estimator) vs Adam training of a U-net (SIP paper, Fig. 7).

    python demos/fluid.py                        # CPU-sized: 32x32, batch 8, 100 steps
    python demos/fluid.py --paper                # 64x64, batch 64, 8 steps of dt 0.25, 20k steps
    python demos/fluid.py --backend jax --steps 50 --iterations 3

Besides the networks, the estimator alone is run as an iterative solver from a zero guess on the first test
batch (`--iterations`, paper Table 1) and timed per example, next to the networks' inference time per example.
"""
import os

import numpy as np

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.sip_scene import split
from phi_inverse.experiments.scenes.fluid import FluidScene
from phi_inverse.experiments.timing import median_seconds

DEFAULTS = dict(steps=100, batch=8, res=32, eval_every=10, test_size=32, iterations=7)
PAPER = dict(steps=20000, batch=64, res=64, eval_every=500, test_size=64, iterations=7)


def iterative_baseline(experiment, iterations: int) -> dict:
    """Runs the estimator alone on the first test batch and times the networks' inference; records both in metrics."""
    scene, first = experiment.scene, next(split(experiment.test_set, experiment.batch_size))
    estimate, history = scene.iterate_estimator(first, iterations)
    experiment.metrics['iterative_estimator'] = {'examples': first.x.shape.batch.volume, 'history': history}
    for name, net in experiment.networks.items():
        seconds = median_seconds(lambda: scene.predict(net, first), repeat=10, warmup=2)
        experiment.metrics['methods'][name]['inference_seconds_per_example'] = seconds / first.x.shape.batch.volume
    return {'batch': first, 'estimate': estimate}


def example_figure(experiment, path: str, iterative: dict, count: int = 2, frames: int = 5) -> str:
    """Per example, rows: ground truth, each network, the iterative estimator; columns: `v0`, then `m(t)`."""
    scene, first = experiment.scene, iterative['batch']
    rows = {'ground truth': first.x, **experiment.test_predictions(), f"estimator x{len(experiment.metrics['iterative_estimator']['history']) - 1}": iterative['estimate']}
    trajectories = {label: scene.trajectory(first, v0) for label, v0 in rows.items()}
    times = np.linspace(0, scene.steps, frames).round().astype(int)
    fig, axes = plot.subplots(count * len(rows), frames + 1, figsize=(2.1 * (frames + 1), 2.1 * count * len(rows)), squeeze=False)
    for example in range(count):
        for r, label in enumerate(rows):
            row = axes[example * len(rows) + r]
            _velocity_panel(row[0], rows[label], example, scene.size)
            row[0].set_ylabel(f'#{example} {label}', fontsize=8)
            markers = trajectories[label].values
            for column, step in enumerate(times):
                image = markers[{'time': int(step), markers.shape.batch.without('time').names[0]: example}].numpy('x,y')
                row[column + 1].imshow(image.T, origin='lower', cmap='magma', vmin=0, vmax=1, extent=(0, scene.size, 0, scene.size))
                row[column + 1].set_axis_off()
                if example == 0 and r == 0:
                    row[column + 1].set_title(f't = {step * scene.flow.dt:g}' + (' (m0)' if step == 0 else ' (m*)' if step == scene.steps else ''), fontsize=8)
    axes[0, 0].set_title('v0: vorticity and arrows', fontsize=8)
    fig.suptitle('Marker matching: initial velocity and marker trajectory, ground truth vs inferred')
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _velocity_panel(axis, velocity, example: int, size: float, every: int = 4):
    values = velocity.values[{velocity.values.shape.batch.names[0]: example}].numpy('x,y,vector')
    dx = size / values.shape[0]
    vorticity = (np.roll(values[..., 1], -1, 0) - np.roll(values[..., 1], 1, 0) - np.roll(values[..., 0], -1, 1) + np.roll(values[..., 0], 1, 1)) / (2 * dx)
    limit = max(np.abs(vorticity).max(), 1e-6)
    axis.imshow(vorticity.T, origin='lower', cmap='RdBu_r', vmin=-limit, vmax=limit, extent=(0, size, 0, size))
    centres = (np.arange(values.shape[0]) + .5) * dx
    grid_x, grid_y = np.meshgrid(centres[::every], centres[::every], indexing='ij')
    axis.quiver(grid_x, grid_y, values[::every, ::every, 0], values[::every, ::every, 1], scale=40 * values.shape[0] / every, width=.006)
    axis.set_xticks([])
    axis.set_yticks([])


def iterative_summary(metrics: dict) -> str:
    history = metrics['iterative_estimator']['history']
    lines = ['estimator alone from v0 = 0 (first test batch):  iteration  x_mae  s/example']
    lines += [f"{'':48s}{h['iteration']:9d}{h['x_mae']:7.3f}{h['seconds_per_example']:10.3f}" for h in history]
    lines += [f"network inference, {name}: {entry['inference_seconds_per_example'] * 1e3:.2f} ms/example, final x_mae {entry.get('final', {}).get('x_mae', float('nan')):.3f}"
              for name, entry in metrics['methods'].items() if 'inference_seconds_per_example' in entry]
    return '\n'.join(lines)


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=('sip', 'adam'))
    parser.add_argument('--iterations', type=int, help=f"iterations of the estimator-alone baseline (default {DEFAULTS['iterations']})")
    args = parse(parser, argv, 'fluid')

    experiment = run_demo(args, lambda a: FluidScene(res=a.res))
    iterative = iterative_baseline(experiment, args.iterations)
    figure = example_figure(experiment, os.path.join(args.out, 'examples.png'), iterative)
    experiment.metrics['figures'].append(os.path.basename(figure))
    experiment.save()
    print(iterative_summary(experiment.metrics))
    return experiment


if __name__ == '__main__':
    main()
