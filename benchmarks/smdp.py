"""SMDP benchmarks: compiled vs eager training step of the toy SDE, batched vs looped posterior sampling (heat).

    python benchmarks/smdp.py                        # PyTorch, one thread per operation
    python benchmarks/smdp.py --backend jax --repeat 30

Each ratio is measured in one run, alternating the compared calls so that machine load affects both alike.
`rows()` gives this benchmark's rows for `benchmarks/run_all.py`.
"""
import os
import sys

from phi import math
from phiml import nn

from phi_inverse.support import backends
from phi_inverse import smdp
from phi_inverse.support.jit_update import adam, jit_update
from phi_inverse.experiments.scenes.stochastic_heat import StochasticHeatScene
from phi_inverse.experiments.scenes.toy_sde import METHODS, ToySDEScene
from phi_inverse.experiments.timing import interleaved_medians

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table import backend_parser, print_table, select_backend  # noqa: E402


def training_rows(window: int, batch_size: int, repeat: int) -> list:
    """One multi-step training step of the toy SDE: `nn.update_weights` eager vs `jit_update` compiled."""
    scene = ToySDEScene(trajectories=500)
    method = METHODS['multi-step']
    data = [scene.windows(window, batch_size, i) for i in range(repeat + 5)]
    updates = {}
    for name in ('eager', 'compiled'):
        math.seed(0)
        net = scene.correction_network()
        loss = method.objective.loss(scene, net)
        if name == 'compiled':
            updates[name] = jit_update(net, adam(net), loss)
        else:
            optimizer = nn.adam(net)
            updates[name] = lambda *tensors, n=net, o=optimizer, l=loss: nn.update_weights(n, o, l, *tensors)
    counter = {name: 0 for name in updates}

    def timed(name):
        counter[name] = (counter[name] + 1) % len(data)
        return updates[name](*data[counter[name]])
    times = interleaved_medians({name: (lambda n=name: timed(n)) for name in updates}, repeat, warmup=5)
    return [dict(name=f'toy training step S={window}, batch {batch_size}: eager / compiled', baseline=times['compiled'],
                 value=times['eager'], ratio=times['eager'] / times['compiled'], aim='> 1')]


def sampling_rows(samples: int, repeat: int) -> list:
    """SDE posterior samples for one heat observation: `samples` in one batched call vs one call per sample."""
    scene = StochasticHeatScene(train_size=4, test_size=1)
    math.seed(0)
    net = scene.correction_network()
    correction = scene.correction(net)
    predictor = smdp.reverse_sde(scene.physics(), correction, scene.diffusion, smdp.MULTI_STEP)
    observation = scene.test_observation
    times = interleaved_medians({
        'batched': lambda: smdp.sample(observation, scene.nominal_times(), predictor, samples=samples),
        'loop': lambda: [smdp.sample(observation, scene.nominal_times(), predictor) for _ in range(samples)],
    }, repeat, warmup=1)
    return [dict(name=f'heat SDE posterior, {samples} samples: loop / batched', baseline=times['batched'],
                 value=times['loop'], ratio=times['loop'] / times['batched'], aim='> 1')]


def rows(repeat: int, samples: int = 16) -> list:
    """All rows of this benchmark on the selected backend: compiled training step, batched posterior sampling."""
    return training_rows(10, 512, repeat) + sampling_rows(samples, max(3, repeat // 5))


def main(argv=None):
    parser = backend_parser(__doc__.splitlines()[0], choices=('torch', 'tensorflow', 'jax'))
    parser.add_argument('--samples', type=int, default=16)
    args = parser.parse_args(argv)
    backend = select_backend(args)
    table = rows(args.repeat, args.samples)
    print_table(f'SMDP benchmarks on {backend.name} ({backends.describe_device(backend)}), {args.threads} thread(s)', table)
    return table


if __name__ == '__main__':
    main()
