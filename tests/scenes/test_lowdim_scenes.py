import numpy as np
import pytest
from phi import math

from phi_inverse.support import backends
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.scenes.exponential import ExponentialScene
from phi_inverse.experiments.scenes.sine2d import Sine2DScene
from phi_inverse.experiments.scenes.sip_scene import PHYSICS, SIP
from phi_inverse.experiments.scenes.wave_packet import CENTRE, WavePacketScene


pytestmark = pytest.mark.usefixtures('single_torch_thread')


def final(experiment, name, key):
    return experiment.metrics['methods'][name]['curve'][key][-1]


def test_sine_samples_are_seeded_and_identical_on_every_backend(backend):
    scene = Sine2DScene()
    with backends.get('numpy'):
        reference = scene.sample(5, seed=3).y.numpy('batch,vector')
    batch = scene.sample(5, seed=3)
    assert batch.y.default_backend == backend
    np.testing.assert_array_equal(batch.y.numpy('batch,vector'), reference)
    assert np.abs(reference).max() <= 1 and not np.allclose(scene.sample(5, seed=4).y.numpy('batch,vector'), reference)


def test_sine_learning_rates_follow_the_paper():
    methods = Sine2DScene(xi=10).methods
    assert methods['sgd'].learning_rate == pytest.approx(1e-4) and methods['rmsprop'].learning_rate == 3e-5
    assert methods['sip'].objective is SIP and {m.objective for n, m in methods.items() if n != 'sip'} == {PHYSICS}
    assert methods['adadelta'].optimizer == 'adadelta' and methods['adadelta'].learning_rate == 3e-3


def test_sip_beats_adam_on_the_coupled_ill_conditioned_sine(torch_backend):
    """The paper's Fig. 5c in miniature (ξ = 32, φ = 45°): after 60 equal steps SIP is far closer to a solution."""
    scene = Sine2DScene(xi=32, phi=45)
    experiment = Experiment(scene, batch_size=100, seed=0, test_size=200)
    for name in ('sip', 'adam'):
        experiment.run(name, scene.methods[name], steps=60, eval_every=60)
    start = experiment.metrics['methods']['sip']['curve']['x_dist'][0]
    assert final(experiment, 'sip', 'x_dist') < .5 * start
    assert final(experiment, 'adam', 'x_dist') > 3 * final(experiment, 'sip', 'x_dist')


def test_sip_reduces_the_sine_error_on_every_ml_backend(ml_backend):
    scene = Sine2DScene(xi=4, phi=45)
    experiment = Experiment(scene, batch_size=50, seed=0, test_size=50)
    experiment.run('sip', scene.methods['sip'], steps=20, eval_every=20)
    curve = experiment.metrics['methods']['sip']['curve']['x_dist']
    assert curve[-1] < .7 * curve[0]


def test_exponential_methods_bring_their_inverse_update():
    from phi_inverse.experiments.scenes.exponential import INVERSE_UPDATES
    scene = ExponentialScene()
    assert {name: scene.methods[name].objective.update for name in INVERSE_UPDATES} == INVERSE_UPDATES
    assert not hasattr(scene.methods['adam'].objective, 'update')
    with pytest.raises(ValueError, match='rescaled'):
        scene.inverse_update(None)


def test_rescaled_gradient_learns_small_targets_that_adam_misses(torch_backend):
    """Paper Fig. 2 in miniature: after 300 steps the normalised gradient is more accurate than Adam for x* < −8."""
    scene = ExponentialScene()
    experiment = Experiment(scene, batch_size=100, seed=0, test_size=100)
    for name in ('rescaled', 'adam'):
        experiment.run(name, scene.methods[name], steps=300, eval_every=300)
    small = ExponentialScene.examples(np.linspace(-12, -8, 50))
    error = {name: float(math.mean(math.stop_gradient(scene.metrics(scene.predict(net, small), small)['x_mae']), 'batch'))
             for name, net in experiment.networks.items()}
    assert error['rescaled'] < .8 * error['adam']


def test_wave_packet_network_starts_at_the_range_and_lbfgsb_fits_central_packets(torch_backend):
    scene = WavePacketScene(noise=0.)
    batch = scene.sample(3, seed=0)
    t0 = math.stop_gradient(scene.predict(scene.network(), batch)).numpy('batch')
    assert np.all((t0 > 25.6) & (t0 < 128))
    near = type(batch)(batch.x * 0 + CENTRE + 1.5, scene.forward(batch.x * 0 + CENTRE + 1.5))
    fitted, seconds = scene.lbfgsb(near)
    np.testing.assert_allclose(fitted.numpy('batch'), CENTRE + 1.5, atol=1e-2)
    metrics = scene.metrics(fitted, near)
    assert set(metrics) == {'x_mae', 'y_loss', 'localised'} and float(math.min(metrics['localised'], 'batch')) == 1
