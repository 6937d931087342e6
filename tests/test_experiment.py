import json

import numpy as np
import pytest
from phi import math

from phi_inverse.support import backends
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.methods import Method
from phi_inverse.experiments.scenes.sip_scene import PHYSICS, InverseUpdateLoss
from phi_inverse.physics import poisson
from phi_inverse.experiments.scenes.poisson import PoissonScene


def curves(experiment, method):
    return experiment.metrics['methods'][method]['curve']


def test_resumed_run_continues_the_same_curve(ml_backend, tmp_path):
    """Interrupted after 2 steps and resumed to 4, the curve equals the uninterrupted 4-step run (network, optimizer, data)."""
    scene, method = PoissonScene(res=16), PoissonScene.methods['sip']
    straight = Experiment(scene, batch_size=4, seed=3, test_size=4, out=str(tmp_path / 'straight'))
    straight.run('sip', method, steps=4, eval_every=1)
    interrupted = Experiment(scene, batch_size=4, seed=3, test_size=4, out=str(tmp_path / 'resumed'))
    interrupted.run('sip', method, steps=2, eval_every=1)
    resumed = Experiment(scene, batch_size=4, seed=3, test_size=4, out=str(tmp_path / 'resumed'))
    resumed.run('sip', method, steps=4, eval_every=1, resume=True)
    expected, actual = curves(straight, 'sip'), curves(resumed, 'sip')
    assert actual['step'] == expected['step'] == [0, 1, 2, 3, 4]
    assert expected['x_mae'][4] != expected['x_mae'][2]
    np.testing.assert_allclose(actual['x_mae'], expected['x_mae'], rtol=2e-4)


def test_methods_share_initialisation_and_test_set(torch_backend):
    scene = PoissonScene(res=16)
    experiment = Experiment(scene, batch_size=4, seed=0, test_size=4)
    experiment.run('sip', scene.methods['sip'], steps=1, eval_every=1)
    experiment.run('adam', scene.methods['adam'], steps=1, eval_every=1)
    sip, adam = curves(experiment, 'sip'), curves(experiment, 'adam')
    assert sip['x_mae'][0] == adam['x_mae'][0]
    assert sip['x_mae'][1] != adam['x_mae'][1]


def test_sip_learns_faster_than_adam_on_poisson(torch_backend):
    """The paper's claim in miniature: after 30 steps SIP's test error is clearly below Adam's."""
    scene = PoissonScene(res=16)
    experiment = Experiment(scene, batch_size=8, seed=0, test_size=16)
    for name in ('sip', 'adam'):
        experiment.run(name, scene.methods[name], steps=30, eval_every=30)
    sip, adam = experiment.final('sip')['x_mae'], experiment.final('adam')['x_mae']
    assert sip < .8 * curves(experiment, 'sip')['x_mae'][0]
    assert sip < .85 * adam


def test_sip_training_reduces_error_on_every_ml_backend(ml_backend):
    scene = PoissonScene(res=16)
    experiment = Experiment(scene, batch_size=8, seed=0, test_size=8)
    experiment.run('sip', scene.methods['sip'], steps=12, eval_every=12)
    curve = curves(experiment, 'sip')['x_mae']
    assert curve[-1] < .85 * curve[0]


def test_diverging_method_is_recorded_and_others_continue(torch_backend, tmp_path):
    scene = PoissonScene(res=16)
    experiment = Experiment(scene, batch_size=4, seed=0, test_size=4, out=str(tmp_path))
    with pytest.warns(RuntimeWarning, match='learning rate'):
        assert experiment.run('sgd', Method(PHYSICS, 'sgd', 1e6), steps=20, eval_every=5) is None
    experiment.run('sip', scene.methods['sip'], steps=1, eval_every=1)
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert 'diverged_at' in metrics['methods']['sgd']
    assert metrics['methods']['sip']['steps'] == 1


def test_metrics_json_follows_the_contract(torch_backend, tmp_path):
    scene = PoissonScene(res=16)
    experiment = Experiment(scene, batch_size=4, seed=0, test_size=4, out=str(tmp_path), config={'steps': 2})
    experiment.run('sip', scene.methods['sip'], steps=2, eval_every=1)
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['scene'] == 'poisson' and metrics['backend'] == 'torch' and metrics['device'] == 'CPU'
    assert {'steps', 'batch', 'res', 'seed'} <= set(metrics['config'])
    entry = metrics['methods']['sip']
    assert set(entry['curve']) >= {'step', 'wall_time', 'x_mae', 'y_loss'}
    assert set(entry['final']) == {'x_mae', 'y_loss'} and entry['seconds_per_step'] > 0


def test_training_on_numpy_names_the_training_backends():
    with backends.get('numpy'):
        with pytest.raises(NotImplementedError, match='PyTorch, TensorFlow or JAX'):
            Experiment(PoissonScene(res=16), batch_size=2)


def test_samples_are_seeded_and_identical_on_every_backend(backend):
    scene = PoissonScene(res=16)
    with backends.get('numpy'):
        reference = scene.sample(3, seed=7)
    batch = scene.sample(3, seed=7)
    assert batch.x.values.default_backend == backend
    np.testing.assert_array_equal(batch.x.values.numpy('batch,x,y'), reference.x.values.numpy('batch,x,y'))
    other = scene.sample(3, seed=8)
    assert not np.allclose(other.x.values.numpy('batch,x,y'), reference.x.values.numpy('batch,x,y'))


def test_samples_are_normalised_and_consistent():
    scene = PoissonScene(res=16)
    batch = scene.sample(4, seed=0)
    values = batch.x.values.numpy('batch,x,y').reshape(4, -1)
    np.testing.assert_allclose(values.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(values.std(1), 1, rtol=1e-4)
    from phi import field
    assert float(math.max(abs(field.laplace(batch.y).values - batch.x.values), dim=lambda s: s)) < 1e-4


def test_a_method_may_bring_its_own_inverse_update(torch_backend):
    """A SIP method with a zero update (η = 0) leaves the network as it is; the scene's own update trains it."""
    frozen = Method(InverseUpdateLoss(lambda: poisson.laplace_update(0.)))
    experiment = Experiment(PoissonScene(res=16), batch_size=4, seed=0, test_size=4)
    experiment.run('frozen', frozen, steps=3, eval_every=3)
    experiment.run('sip', PoissonScene.methods['sip'], steps=3, eval_every=3)
    frozen, sip = curves(experiment, 'frozen')['x_mae'], curves(experiment, 'sip')['x_mae']
    assert frozen[0] == frozen[-1] == sip[0] and sip[-1] != sip[0]


def test_resuming_a_finished_run_records_its_results(torch_backend, tmp_path):
    """Killed after its last step (e.g. while drawing figures), a resumed run records the saved curve, not nothing."""
    scene, method = PoissonScene(res=16), PoissonScene.methods['sip']
    finished = Experiment(scene, batch_size=4, seed=3, test_size=4, out=str(tmp_path))
    finished.run('sip', method, steps=3, eval_every=1)
    (tmp_path / 'metrics.json').unlink()
    resumed = Experiment(scene, batch_size=4, seed=3, test_size=4, out=str(tmp_path))
    resumed.run('sip', method, steps=3, eval_every=1, resume=True)
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['methods']['sip']['curve'] == curves(finished, 'sip')
    assert metrics['methods']['sip']['final'] == finished.final('sip')
    assert metrics['methods']['sip']['seconds_per_step'] == finished.metrics['methods']['sip']['seconds_per_step']
