import numpy as np
import pytest

from phi_inverse.experiments import iterative
from phi_inverse.experiments.scenes.heat import HeatScene


@pytest.fixture
def scene_and_examples(torch_backend):
    scene = HeatScene(res=16)
    return scene, scene.sample(2, seed=5)


def test_lbfgs_lowers_the_error_and_records_its_curve(scene_and_examples):
    scene, examples = scene_and_examples
    result = iterative.solve_examples(scene, examples, 'L-BFGS-B', iterations=15)
    zero_error = float(np.mean(np.abs(examples.x.values.numpy('batch,x,y')), axis=(1, 2)).mean())
    assert len(result.curve) == 16 and result.curve[0] == pytest.approx(zero_error, rel=1e-5)
    assert result.curve[-1] < .8 * result.curve[0]
    assert result.x.shape == examples.x.shape and len(result.seconds) == 2 and min(result.seconds) > 0
    final = np.mean(np.abs(result.x.values.numpy('batch,x,y') - examples.x.values.numpy('batch,x,y')), axis=(1, 2))
    np.testing.assert_allclose(final, result.x_mae, rtol=1e-5)


def test_compare_puts_solvers_and_networks_side_by_side(scene_and_examples):
    scene, examples = scene_and_examples
    net = scene.network()
    section, solutions = iterative.compare(scene, {'sip': net}, examples, 2, {'gd': 2, 'l-bfgs-b': 2}, chunk=2)
    assert set(section['solvers']) == {'gd', 'l-bfgs-b'} == set(solutions)
    assert section['examples'] == 2 and section['solvers']['gd']['iterations'] == 2
    assert section['networks']['sip']['seconds_per_example'] > 0
    assert section['solvers']['l-bfgs-b']['curve']['x_mae'][-1] == pytest.approx(section['solvers']['l-bfgs-b']['x_mae'])
