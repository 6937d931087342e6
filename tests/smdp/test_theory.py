"""Tests of the theory behind SMDP on the affine SDE `dx = −λx dt + g dW` from x0 ∈ {−1, 1} (known score).

* The 1-step loss is minimised by `s_θ = g²·∇ₓ log p_t` (paper theorem 3.1 / appendix A.1), not `½g²·∇ₓ log p_t`.
* With that correction, the probability-flow ODE with `C = ½` and the reverse SDE with `C = 1` reproduce the data's
  marginals, while `C = 1` without noise does not.
* A network trained with the 1-step loss matches `g²·∇ₓ log p_t` where the data are dense.
"""
import numpy as np
import pytest
from phi import math
from phi.math import batch, channel

from phi_inverse import smdp
from phi_inverse.physics import TIME, toy_sde

RATE, DIFFUSION, DT, STEPS = .5, .04, .02, 100


def affine_paths(count: int, seed: int = 0):
    with math.NUMPY:
        math.seed(seed)
        x0 = math.wrap(np.where(np.arange(count) % 2 == 0, 1., -1.), batch('examples'))
        paths = toy_sde.simulate(toy_sde.affine_drift(RATE), x0, DIFFUSION, DT, STEPS)
    return math.convert(paths)


def times():
    return math.tensor(np.arange(STEPS + 1) * DT, batch(TIME))


def physics():
    return smdp.euler(toy_sde.reverse_drift(toy_sde.affine_drift(RATE)))


def analytic_correction(x, t):
    return DIFFUSION ** 2 * toy_sde.affine_score(x, t, RATE, DIFFUSION)


def test_one_step_loss_is_minimised_by_g_squared_times_the_score(backend):
    """Fit `s = a·g²·∇log p_t + b·x` by the 1-step loss over all adjacent pairs: the optimum is `a = 1`, `b = 0`."""
    paths, t = affine_paths(2000), times()
    x_prev, x, t_next = paths[{TIME: slice(0, -1)}], paths[{TIME: slice(1, None)}], t[{TIME: slice(1, None)}]
    features = math.stack([analytic_correction(x, t_next), x], channel('feature'))
    target = (x_prev - physics()(x, t_next, DT)) / DT
    # 1-step loss ‖x_m − x_{m+1} − Δt[P̃⁻¹ + θ·φ]‖² is linear least squares in θ: solve the normal equations
    gram = math.sum(features * math.rename_dims(features, 'feature', 'feature2'), features.shape.non_channel)
    moment = math.sum(features * target, features.shape.non_channel)
    coefficients = np.linalg.solve(gram.numpy('feature,feature2'), moment.numpy('feature'))
    np.testing.assert_allclose(coefficients, [1, 0], atol=.06)
    theta = math.tensor(coefficients, channel('feature'))
    fitted = lambda x_, t_: math.sum(theta * math.stack([analytic_correction(x_, t_), x_], channel('feature')), 'feature')
    half = lambda x_, t_: .5 * analytic_correction(x_, t_)
    step = lambda c: smdp.reverse_step(physics(), c)
    fitted_loss = math.mean(smdp.one_step_loss(step(fitted), x_prev, x, t_next, DT), x.shape)
    half_loss = math.mean(smdp.one_step_loss(step(half), x_prev, x, t_next, DT), x.shape)
    assert float(fitted_loss) < float(half_loss)


@pytest.mark.parametrize('sampler', ['ode', 'sde'])
def test_default_correction_factors_reproduce_the_marginals(sampler, torch_backend):
    paths, t = affine_paths(4000), times()
    math.seed(1)
    predictor = smdp.probability_flow(physics(), analytic_correction) if sampler == 'ode' else \
        smdp.reverse_sde(physics(), analytic_correction, DIFFUSION)
    reconstructed = smdp.sample(paths[{TIME: -1}], t, predictor, trajectory=True)
    for m in (STEPS // 2, STEPS // 10, 1):
        data, model = paths[{TIME: m}].numpy(), reconstructed[{TIME: m}].numpy()
        np.testing.assert_allclose(_branch_stats(model), _branch_stats(data), rtol=.15, atol=2e-3, err_msg=f'time step {m}')
    x0 = reconstructed[{TIME: 0}].numpy()
    assert abs(np.mean(x0 > 0) - .5) < .03 and np.mean(abs(abs(x0) - 1) < .1) > .97


def test_ode_without_the_half_factor_contracts_the_branches(torch_backend):
    """`C = 1` without noise follows the reverse SDE's mean drift: the spread of each branch collapses."""
    paths, t = affine_paths(4000), times()
    reconstructed = smdp.sample(paths[{TIME: -1}], t, smdp.probability_flow(physics(), analytic_correction, 1.), trajectory=True)
    data_spread, model_spread = _branch_stats(paths[{TIME: STEPS // 2}].numpy())[1], _branch_stats(reconstructed[{TIME: STEPS // 2}].numpy())[1]
    assert model_spread < .6 * data_spread


def test_network_trained_with_one_step_loss_matches_the_score_where_data_are_dense(torch_backend):
    from phi_inverse.support import networks
    from phi_inverse.support.jit_update import adam, cosine_decay, jit_update
    paths, t = affine_paths(2000), times()
    math.seed(0)
    net = networks.mlp(2, 1, [32, 32], 'ELU')

    def correction(x, t_):
        features = math.stack([x * 30, math.expand(t_, x.shape)], channel(vector='x,t'))
        return math.native_call(net, features).vector[0]
    step = smdp.reverse_step(physics(), correction)
    optimizer = adam(net, cosine_decay(3e-3, 1e-5, 3000))  # the targets are noisy: SNR ≈ √(2λΔt) ≈ 0.14 per pair
    update = jit_update(net, optimizer, lambda w, tw: math.mean(smdp.multi_step_loss(step, w, tw), 'examples') / DT ** 2)
    rng = np.random.default_rng(0)
    data, time_values = paths.numpy('examples,time'), t.numpy('time')
    for i in range(3000):
        index, start = rng.integers(0, 2000, 8192), rng.integers(0, STEPS, 8192)
        window = np.stack([data[index, start], data[index, start + 1]], -1)
        window_times = np.stack([time_values[start], time_values[start + 1]], -1)
        update(math.tensor(window, batch('examples', TIME)), math.tensor(window_times, batch('examples', TIME)))
    dense = paths[{TIME: slice(STEPS // 4, None)}]  # t ≥ 0.5, where both branches hold many samples
    dense_t = math.expand(t[{TIME: slice(STEPS // 4, None)}], dense.shape)
    learned, exact = correction(dense, dense_t).numpy('time,examples'), analytic_correction(dense, dense_t).numpy('time,examples')
    relative_error = np.sqrt(np.mean((learned - exact) ** 2) / np.mean(exact ** 2))
    assert relative_error < .35, relative_error
    half_error = np.sqrt(np.mean((learned - .5 * exact) ** 2) / np.mean(exact ** 2))
    assert relative_error < half_error


def _branch_stats(x: np.ndarray):
    """Mean and standard deviation of |x| within the positive and negative branch (sign-symmetric)."""
    magnitude = np.where(x > 0, x, -x)
    return np.array([magnitude.mean(), magnitude.std()])
