"""The own-simulation scenes, demo and benchmark: physics as documented, the generic update improves the estimate,
and the demo writes the usual outputs at a tiny size."""
import json
import math as pymath
import os
import sys

import numpy as np
import pytest
from phi import field, math

from phi_inverse.experiments.scenes.own_simulation import SIMULATIONS, OwnSimulationScene
from phi_inverse.metrics import mean_abs_error
from tests.test_demo import load_demo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))
pytestmark = pytest.mark.usefixtures('single_torch_thread')


@pytest.mark.parametrize('simulation', SIMULATIONS)
def test_data_are_normalised_and_simulated(simulation):
    scene = OwnSimulationScene.for_simulation(simulation, res=8, jit=False)
    data = scene.sample(3, seed=1)
    spatial = data.x.shape.spatial
    np.testing.assert_allclose(math.mean(data.x.values, spatial).numpy(data.x.values.shape.non_spatial), 0, atol=1e-5)
    std = math.std(data.x.values, spatial).numpy(data.x.values.shape.non_spatial)
    np.testing.assert_allclose(std, scene.amplitude, rtol=1e-4)
    assert float(math.max(abs(scene.simulate(data.x).values - data.y.values), lambda s: s)) < 1e-5
    assert scene.sample(3, seed=1).x.values.numpy(data.x.values.shape.names).tolist() == data.x.values.numpy(data.x.values.shape.names).tolist()


def test_advection_diffusion_is_linear_and_burgers_is_not():
    for simulation, linear in (('advection_diffusion', True), ('burgers', False)):
        scene = OwnSimulationScene.for_simulation(simulation, res=8, jit=False)
        a, b = scene.sample(2, 1).x, scene.sample(2, 2).x
        deviation = scene.simulate(a + 2 * b) - scene.simulate(a) - 2 * scene.simulate(b)
        relative = float(math.max(abs(deviation.values), lambda s: s)) / float(math.max(abs(scene.simulate(b).values), lambda s: s))
        assert (relative < 1e-4) == linear, (simulation, relative)


def test_advection_diffusion_conserves_the_total_concentration():
    scene = OwnSimulationScene.for_simulation('advection_diffusion', res=8, jit=False)
    data = scene.sample(2, 3)
    np.testing.assert_allclose(field.mean(data.y).numpy('batch'), field.mean(data.x).numpy('batch'), atol=1e-5)


def moves_towards_the_truth(simulation: str, factor: float):
    scene = OwnSimulationScene.for_simulation(simulation, res=8)
    data = scene.sample(2, 4)
    guess = .5 * data.x
    dx = scene.update(guess, y_target=data.y)
    before, after = mean_abs_error(guess, data.x).numpy('batch'), mean_abs_error(guess + dx, data.x).numpy('batch')
    assert np.all(after < factor * before), (before, after)


def test_generic_update_moves_a_guess_towards_the_truth(ml_backend):
    moves_towards_the_truth('advection_diffusion', .65)


def test_generic_update_moves_a_burgers_guess_towards_the_truth(torch_backend):
    moves_towards_the_truth('burgers', .8)


def test_demo_writes_metrics_and_figures(tmp_path, torch_backend):
    demo = load_demo('own_simulation')
    demo.main(['--steps', '2', '--eval-every', '1', '--res', '8', '--batch', '2', '--test-size', '2', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['scene'] == 'advection_diffusion' and metrics['config']['res'] == 8
    assert list(metrics['methods']) == ['sip', 'adam']
    for entry in metrics['methods'].values():
        assert entry['curve']['step'] == [0, 1, 2] and entry['final']['x_mae'] > 0 and entry['seconds_per_step'] > 0
    assert metrics['figures'] == ['learning_curves.png', 'examples.png']
    assert all((tmp_path / f).stat().st_size > 10_000 for f in metrics['figures'])


@pytest.mark.parametrize('backend_name', ['tensorflow', 'jax'])
def test_demo_trains_compiled_on_other_backends(tmp_path, backend_name):
    pytest.importorskip(backend_name)
    demo = load_demo('own_simulation')
    demo.main(['--simulation', 'burgers', '--iterations', '1', '--backend', backend_name, '--jit', '--steps', '1', '--eval-every', '1',
               '--res', '8', '--batch', '2', '--test-size', '2', '--methods', 'sip', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['scene'] == 'burgers' and metrics['backend'] == backend_name and metrics['config']['jit']
    assert metrics['config']['iterations'] == 1
    assert np.isfinite(metrics['methods']['sip']['final']['x_mae'])


def test_benchmark_rows_are_complete(torch_backend):
    import own_simulation as benchmark
    for row in benchmark.training_rows(8, 2, 1, warmup=1):
        assert set(row) == {'name', 'baseline', 'value', 'ratio', 'aim'}
        assert row['baseline'] > 0 and row['value'] > 0 and pymath.isclose(row['ratio'], row['value'] / row['baseline'])
