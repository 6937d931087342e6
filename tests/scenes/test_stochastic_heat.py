"""The stochastic heat scene's training data (swept windows), zero-initialised correction, baselines and metrics."""
import numpy as np
import pytest
from phi import math
from phi.math import batch, channel, spatial
from phiml import nn

from phi_inverse.experiments.methods import make_step
from phi_inverse.experiments.scenes.stochastic_heat import StochasticHeatScene
from phi_inverse.experiments.smdp_objectives import MultiStep
from phi_inverse.physics import TIME
from phi_inverse.support import networks
from phi_inverse.support.jit_update import adam, jit_update

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def tiny_scene(**settings) -> StochasticHeatScene:
    return StochasticHeatScene(**{'train_size': 8, 'test_size': 4, 'resolution': 8, 'steps': 6, 'filters': 4, 'levels': 1, **settings})


def test_swept_windows_cover_one_trajectory_from_its_end_and_wrap_around():
    scene = tiny_scene()
    trajectory, times = scene.trajectories(3, seed=5)
    ends = []
    for position in range(6):
        window, window_times = scene.windows(3, 3, seed=5, position=position)
        end = int(np.argmin(np.abs(times.numpy(TIME) - window_times.numpy(TIME)[-1])))
        np.testing.assert_array_equal(window.numpy('examples,time,x,y'), trajectory[{TIME: slice(end - 2, end + 1)}].numpy('examples,time,x,y'))
        ends.append(end)
    assert ends == [6, 5, 4, 3, 2, 6]  # 5 full windows of 3 states in 7, then again from x_T


def test_a_new_seed_simulates_new_trajectories_with_new_noise():
    scene = tiny_scene()
    first = scene.windows(3, 2, seed=1, position=0)[0].numpy('examples,time,x,y')
    again = scene.windows(3, 2, seed=1, position=0)[0].numpy('examples,time,x,y')
    other = scene.windows(3, 2, seed=2, position=0)[0].numpy('examples,time,x,y')
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > .01


def test_sweeping_steps_share_the_data_seed_of_their_trajectory_batch():
    objective = MultiStep(4, sweep=6)
    assert [objective.data_index(i) for i in (0, 5, 6, 13)] == [0, 0, 1, 2]
    assert MultiStep(4).data_index(13) == 13


def test_sweep_trains_every_window_position_of_one_batch(torch_backend, monkeypatch):
    scene = tiny_scene(window=3)
    calls = []
    original = scene.windows
    monkeypatch.setattr(scene, 'windows', lambda size, count, seed, position=None: calls.append((seed, position)) or original(size, count, seed, position))
    method = scene.methods['smdp']
    math.seed(0)
    net = method.objective.network(scene)
    step = make_step(scene, method, net, method.make_optimizer(net, 8), 2, seed=0, steps=8)
    for i in range(8):
        step(i)
    seeds = [seed for seed, _ in calls]
    assert [position for _, position in calls] == [0, 1, 2, 3, 4, 5, 0, 1]
    assert len(set(seeds[:6])) == 1 and seeds[6] != seeds[0]


def test_correction_starts_as_zero_and_leaves_zero_when_trained(ml_backend):
    scene = tiny_scene()
    math.seed(0)
    net = scene.correction_network()
    window, times = scene.windows(3, 2, seed=0)
    x = scene.grid(window[{TIME: -1}])
    assert np.abs(scene.correction(net)(x, times[{TIME: -1}]).values.numpy('examples,x,y')).max() == 0
    optimizer = nn.adam(net, 1e-3)
    nn.update_weights(net, optimizer, scene.multi_step_loss(net), window, times)
    assert np.abs(scene.correction(net)(x, times[{TIME: -1}]).values.numpy('examples,x,y')).max() > 0


def test_zero_output_keeps_the_hidden_layers(ml_backend):
    """Zeroing every layer would leave the features, and so every gradient, zero: training could never start."""
    math.seed(0)
    plain = nn.u_net(1, 1, levels=1, filters=4, batch_norm=False, periodic=True)
    math.seed(0)
    zeroed = networks.zero_output(nn.u_net(1, 1, levels=1, filters=4, batch_norm=False, periodic=True))
    assert 0 < parameters_sum(zeroed) < parameters_sum(plain)


def test_zero_output_makes_a_res_net_the_zero_function(ml_backend):
    """The buoyancy correction: PhiML's ResNet, whose output layer is its last convolution on every backend."""
    math.seed(0)
    net = networks.zero_output(nn.res_net(5, 3, [4, 4], batch_norm=False, activation='ReLU'))
    x = math.random_normal(batch(examples=2), spatial(x=8, y=8), channel(vector=5))
    out = math.native_call(net, x)
    assert float(math.max(abs(out), out.shape)) == 0
    assert parameters_sum(net) > 0


def parameters_sum(net) -> float:
    return sum(float(np.abs(np.asarray(p.detach() if hasattr(p, 'detach') else p)).sum()) for p in _leaves(net))


def _leaves(net):
    if hasattr(net, 'parameters') and callable(net.parameters):
        return list(net.parameters())
    if hasattr(net, 'trainable_weights'):
        return [w.numpy() for w in net.trainable_weights]
    import jax
    return jax.tree_util.tree_leaves(net.parameters)


@pytest.mark.parametrize('architecture', ['', 'fno', 'bnn'])
def test_supervised_baselines_train_compiled(ml_backend, architecture):
    if ml_backend.name == 'tensorflow' and architecture == 'bnn':
        pytest.skip('The dropout U-net exists for PyTorch and JAX.')
    scene = tiny_scene()
    math.seed(0)
    net = scene.supervised_network(architecture)
    batch = scene.pairs(4, seed=0, architecture=architecture)
    loss = scene.supervised_loss(net, architecture)
    before = float(loss(*batch))
    update = jit_update(net, adam(net, 1e-3), loss)
    for _ in range(10):
        update(*batch)
    assert float(loss(*batch)) < before


def test_baseline_reconstructions_carry_no_gradient(torch_backend):
    scene = tiny_scene()
    method = scene.methods['supervised']
    reconstruction = scene.reconstruct(method.objective.network(scene), method, None)
    assert not reconstruction.values.native('examples,x,y').requires_grad


def test_bnn_draws_new_masks_for_every_batch_and_reconstruction(ml_backend):
    if ml_backend.name == 'tensorflow':
        pytest.skip('The dropout U-net exists for PyTorch and JAX.')
    scene = tiny_scene()
    method = scene.methods['bnn']
    math.seed(0)
    net = method.objective.network(scene)
    assert np.abs(scene.pairs(4, 0, 'bnn')[2].numpy('examples,mask') - scene.pairs(4, 1, 'bnn')[2].numpy('examples,mask')).max() > 0
    first = scene.reconstruct(net, method, None, seed=0).values.numpy('examples,x,y')
    second = scene.reconstruct(net, method, None, seed=1).values.numpy('examples,x,y')
    assert np.abs(first - second).max() > 1e-6


@pytest.mark.parametrize('network, levels, reaches', [('fno', 4, True), ('u-net', 4, True), ('u-net', 2, False)])
def test_the_networks_see_the_whole_32_cell_domain(torch_backend, network, levels, reaches):
    """Poking one cell must change the output half a period away, where the lowest (global) modes are decided."""
    scene = StochasticHeatScene(train_size=2, test_size=1, network=network, levels=levels)
    net = scene.supervised_network()
    x = math.random_normal(spatial(x=32, y=32))
    poked = x + math.where((math.meshgrid(x=32, y=32).vector['x'] == 0) & (math.meshgrid(x=32, y=32).vector['y'] == 0), 1., 0.)
    change = abs(math.native_call(net, poked) - math.native_call(net, x))
    assert float(math.max(change)) > 1e-4
    assert (float(change.x[16].y[16]) > 0) == reaches


def test_the_default_networks_are_fourier_neural_operators_with_a_four_level_u_net_alternative():
    scene = StochasticHeatScene(train_size=2, test_size=1)
    assert (scene.network, scene.width, scene.modes, scene.levels) == ('fno', 20, 12, 4)


def test_unknown_architectures_and_networks_are_refused():
    with pytest.raises(ValueError, match='network must be one of'):
        tiny_scene(network='mlp')
    with pytest.raises(ValueError, match='Unknown architecture'):
        tiny_scene().supervised_network('resnet')


def test_evaluation_reports_both_observation_sets(torch_backend):
    scene = tiny_scene(resolution=16)  # the spectral error needs radii up to 10
    method = scene.methods['smdp']
    math.seed(0)
    results = scene.evaluate(method.objective.network(scene), method, scene.test_set(4, 0), 4)
    assert set(results) == {'ode', 'sde'}
    assert set(results['ode']) == {'mse', 'spectral_error', 'mse_clean', 'spectral_error_clean'}
    assert results['ode']['mse'] != results['ode']['mse_clean']


def test_references_score_the_exact_posterior_mean_and_a_sample():
    scene = tiny_scene(resolution=16, test_size=64)
    references = scene.references()
    mean, sample = references['posterior-mean'], references['posterior-sample']
    for suffix in ('', '_clean'):
        assert mean[f'mse{suffix}'] < sample[f'mse{suffix}'] and sample[f'spectral_error{suffix}'] < mean[f'spectral_error{suffix}']
