import importlib.util
import json
import os

import numpy as np
import pytest

from phi_inverse.support import backends
from phi_inverse.experiments import comparison
from phi_inverse.experiments.scenes.poisson import PoissonScene


def test_parity_reports_the_largest_pairwise_difference():
    outputs = {'a': {'forward': np.zeros(3), 'inverse': np.ones(2)},
               'b': {'forward': np.array([0, 2e-6, 0]), 'inverse': np.ones(2)},
               'c': {'forward': np.array([0, -1e-6, 0]), 'inverse': np.array([1, 1 + 5e-5])}}
    parity = comparison.parity(outputs)
    assert parity['by_operator']['forward'] == pytest.approx(3e-6)
    assert parity['by_operator']['inverse'] == pytest.approx(5e-5)
    assert parity['max_abs_diff'] == pytest.approx(5e-5)
    assert set(parity['pairs']) == {'a-b', 'a-c', 'b-c'}


def test_measure_physics_only_on_numpy():
    with backends.get('numpy'):
        probe_for = comparison.sip_probe(lambda jit: PoissonScene(res=16, jit=jit), batch_size=2, seed=0)
        report, outputs = comparison.measure(probe_for, steps=0, repeat=1, can_train=False)
    assert set(report['seconds']) == {'forward', 'inverse'} and set(report['seconds']['forward']) == {'eager'}
    assert report['jit_supported'] is False and report['final'] == {}
    assert outputs['forward'].shape == (2, 16, 16) and np.abs(outputs['inverse']).max() > 0


def test_measure_times_eager_and_jit_training(torch_backend):
    probe_for = comparison.sip_probe(lambda jit: PoissonScene(res=16, jit=jit), batch_size=2, seed=0, test_size=2)
    report, outputs = comparison.measure(probe_for, steps=1, repeat=1)
    assert set(report['seconds']['train_step']) == {'eager', 'jit'}
    assert report['final']['x_mae'] > 0 and report['memory']['peak_rss_mb'] > 0
    with backends.get('numpy'):
        reference = comparison.sip_probe(lambda jit: PoissonScene(res=16, jit=jit), batch_size=2, seed=0)(False)
        expected = comparison.as_numpy(reference.forward(*reference.inputs()))
    np.testing.assert_allclose(outputs['forward'], expected, atol=1e-5)


def load_demo():
    path = os.path.join(os.path.dirname(__file__), '..', 'demos', 'backend_comparison.py')
    spec = importlib.util.spec_from_file_location('backend_comparison', path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def test_parity_skips_operators_a_backend_could_not_run():
    outputs = {'numpy': {'forward': np.zeros(2)}, 'torch': {'forward': np.ones(2), 'inverse': np.ones(2)},
               'jax': {'forward': np.ones(2), 'inverse': np.ones(2) * 1.5}}
    parity = comparison.parity(outputs)
    assert parity['pairs']['numpy-torch'] == {'forward': 1.}
    assert parity['by_operator'] == {'forward': 1., 'inverse': .5}


def test_measure_leaves_out_the_newton_update_on_numpy():
    """NumPy cannot differentiate: the sine-2D scene's Hessian-based update is skipped, its forward is timed."""
    demo = load_demo()
    args = demo.argument_parser().parse_args(['--scene', 'sine2d', '--batch', '2'])
    with backends.get('numpy'):
        report, outputs = comparison.measure(demo.probe_factory(args), steps=0, repeat=1, can_train=False)
    assert set(report['seconds']) == {'forward'} and set(outputs) == {'forward'}


@pytest.mark.parametrize('scene', ['heat', 'sine2d', 'exponential', 'stochastic_heat'])  # fluid: minutes (its own tests cover it)
def test_every_scene_takes_part(scene, torch_backend):
    demo = load_demo()
    args = demo.argument_parser().parse_args(['--scene', scene, '--batch', '2', '--res', '16'])
    report, outputs = comparison.measure(demo.probe_factory(args), steps=1, repeat=1)
    assert set(outputs) == {'forward', 'inverse'} and np.all(np.isfinite(outputs['inverse']))
    assert report['seconds']['train_step']['eager'] > 0 and report['final']


def test_backend_comparison_demo_writes_the_contract(tmp_path):
    pytest.importorskip('torch')
    demo = load_demo()
    demo.main(['--backends', 'numpy,torch', '--steps', '1', '--repeat', '1', '--res', '16', '--batch', '2', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert set(metrics['backends']) == {'numpy', 'torch'}
    assert metrics['backends']['torch']['device'] == 'CPU' and 'train_step' in metrics['backends']['torch']['seconds']
    assert metrics['parity']['passed'] and metrics['parity']['max_abs_diff'] <= 1e-4
    assert (tmp_path / 'timings.png').stat().st_size > 10_000 and '| torch |' in (tmp_path / 'comparison.md').read_text()
    with pytest.raises(SystemExit, match='not installed'):
        demo.main(['--backends', 'mxnet', '--out', str(tmp_path)])
