"""The turbulence scene: cached data, the split reverse step, the staged methods and their checkpoints."""
import numpy as np
import pytest
from phi import math
from phi.math import batch, spatial

from phi_inverse.experiments.data_cache import CACHE_VARIABLE
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.scenes.turbulence import SURROGATE, TurbulenceScene
from phi_inverse.physics import TIME
from phi_inverse.support import backends
from phi_inverse.support.fno import parameter_count

pytestmark = pytest.mark.usefixtures('single_torch_thread')
TRAINABLE = [name for name in backends.installed() if name in ('torch', 'jax')]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / 'cache'))


@pytest.fixture(params=TRAINABLE)
def fno_backend(request):
    selected = backends.get(request.param)
    with selected:
        yield selected


def tiny_scene(messages=None, **settings) -> TurbulenceScene:
    options = dict(train_size=3, test_size=2, resolution=16, end_time=3., window=3, modes=4, width=4, filters=4)
    return TurbulenceScene(**{**options, **settings}, say=(messages.append if messages is not None else lambda _: None))


def test_data_is_simulated_once_and_test_trajectories_are_separate():
    messages = []
    with math.NUMPY:
        first = tiny_scene(messages)
        second = tiny_scene(messages)
    assert [m.split(':')[1].split()[0] for m in messages] == ['generated', 'generated', 'loaded', 'loaded']
    np.testing.assert_array_equal(first.train, second.train)
    assert first.train.shape == (3, 4, 16, 16)
    test_initial = first.test_trajectories[{TIME: 0}].values.numpy('examples,x,y')
    assert min(np.abs(test_initial[0] - first.train[i, 0]).max() for i in range(3)) > .1


def test_validation_trajectories_are_neither_training_nor_test_trajectories():
    with math.NUMPY:
        test = tiny_scene()
        validation = tiny_scene(evaluate_on='validation')
    assert validation.config()['evaluate_on'] == 'validation'
    validation_initial = validation.test_trajectories[{TIME: 0}].values.numpy('examples,x,y')
    test_initial = test.test_trajectories[{TIME: 0}].values.numpy('examples,x,y')
    assert np.abs(validation_initial - test_initial).max() > .1
    assert min(np.abs(validation_initial[0] - test.train[i, 0]).max() for i in range(3)) > .1
    with pytest.raises(ValueError, match='evaluate_on'):
        tiny_scene(evaluate_on='train')


def test_noise_draws_enter_the_multi_step_loss_in_step_order():
    """Identity `P̃⁻¹`, no correction, zero window and draws `z_j = j`: `x̂_1 = g·z_1`, `x̂_0 = x̂_1 + g·z_0`, loss `2g²` per cell."""
    with math.NUMPY:
        scene = tiny_scene()
        identity = lambda x, t, dt: x  # noqa: E731
        loss = scene._loss(identity, None, with_noise=True)
        window = math.zeros(batch(examples=1, time=3), spatial(x=16, y=16))
        noise = window + math.tensor(np.arange(3.), batch(TIME))
        value = float(loss(window, scene.nominal_times()[{TIME: slice(0, 3)}], noise))
    assert value == pytest.approx(2 * scene.diffusion ** 2 * 256, rel=1e-5)


def test_corrections_start_at_zero_and_the_joint_surrogate_does_not(torch_backend):
    with math.NUMPY:
        scene = tiny_scene()
        window, times, _ = scene.windows(3, 2, seed=5, noise=True)
    x, t = scene.grid(window[{TIME: 2}]), times[{TIME: 2}]
    joint = scene.joint_network()
    for correction in (scene.correction(scene.correction_network()), scene.correction(joint, output=1, joint=True)):
        assert float(math.max(abs(correction(x, t).values), x.values.shape)) == 0
    surrogate_step = scene.surrogate(joint, output=0, with_time=True)(x, t, 1.)
    assert float(math.max(abs(surrogate_step.values - x.values), x.values.shape)) > 0


def test_losses_unroll_the_split_step_with_networks(fno_backend):
    """Each method's loss equals the summed squared error of an explicit unroll of the split step with the same draws
    (forward only, so that JAX needs no compilation; on JAX only the surrogate, since PhiML's U-net takes long to
    initialise eagerly)."""
    with math.NUMPY:
        scene = tiny_scene()
        window, times, noise = scene.windows(3, 2, seed=5, noise=True)
    math.seed(0)
    surrogate = scene.surrogate_network()
    scene.register_network(SURROGATE, surrogate)
    cases = {SURROGATE: (scene.surrogate_loss(surrogate), surrogate, False)}
    if fno_backend.name == 'torch':
        correction, joint = scene.correction_network(), scene.joint_network()
        cases.update({'smdp': (scene.correction_loss(correction, surrogate), correction, True),
                      'simultaneous': (scene.joint_loss(joint), joint, True)})
    for name, (loss, net, noisy) in cases.items():
        physics, correction_part = scene.parts(net, scene.methods[name])
        x, expected = scene.grid(window[{TIME: 2}]), 0
        for j in (2, 1):
            draw = noise[{TIME: j - 1}]
            x = scene.split_step(physics, correction_part, noise=(lambda: draw) if noisy else None)(x, times[{TIME: j}], times[{TIME: j}] - times[{TIME: j - 1}])
            expected += math.sum((x.values - window[{TIME: j - 1}]) ** 2, 'x,y')
        actual = loss(window, times, noise) if noisy else loss(window, times)
        assert float(actual) == pytest.approx(float(math.mean(expected, 'examples')), rel=1e-5), name


def test_paper_surrogate_has_the_paper_parameter_count(torch_backend):
    with math.NUMPY:
        scene = tiny_scene(modes=12, width=20)
    with torch_backend:
        assert parameter_count(scene.surrogate_network()) == 465_377


def test_second_stage_needs_the_first_and_keeps_it_frozen(torch_backend):
    with math.NUMPY:
        scene = tiny_scene()
    experiment = Experiment(scene, batch_size=2, seed=0, test_size=2)
    with pytest.raises(ValueError, match=SURROGATE):
        experiment.run('smdp', scene.methods['smdp'], steps=1, eval_every=1)
    experiment.run(SURROGATE, scene.methods[SURROGATE], steps=2, eval_every=2)
    surrogate = experiment.networks[SURROGATE]
    observation = scene.test_set(2, 0)[1]
    before = scene.reconstruct(surrogate, scene.methods[SURROGATE], None, observation).values.numpy('examples,x,y')
    experiment.run('smdp', scene.methods['smdp'], steps=2, eval_every=2)
    after = scene.reconstruct(surrogate, scene.methods[SURROGATE], None, observation).values.numpy('examples,x,y')
    np.testing.assert_array_equal(after, before)
    assert set(experiment.metrics['methods']) == {SURROGATE, 'smdp-ode', 'smdp-sde'}


def test_resumed_run_restores_the_first_stage_for_the_second(torch_backend, tmp_path):
    """Resuming a finished run retrains nothing: smdp-ode's result is reproduced only if the surrogate is restored."""
    with math.NUMPY:
        scene = tiny_scene()
    methods = {name: scene.methods[name] for name in (SURROGATE, 'smdp')}

    def run(resume: bool, seed_offset: int):
        math.seed(seed_offset)
        experiment = Experiment(tiny_scene(), batch_size=2, seed=0, test_size=2, out=str(tmp_path))
        for name, method in methods.items():
            experiment.run(name, method, steps=3, eval_every=3, resume=resume)
        return experiment.metrics['methods']
    first = run(False, 0)
    resumed = run(True, 1)
    assert resumed['smdp-ode']['final'] == first['smdp-ode']['final']
    assert resumed[SURROGATE]['curve']['step'] == [0, 3]
