"""Tests of the theory behind SMDP on the affine SDE `dx = −λx dt + g dW` from x0 ∈ {−1, 1} (known score).

* The 1-step loss is minimised by `s_θ = g²·∇ₓ log p_t` (paper theorem 3.1 / appendix A.1), not `½g²·∇ₓ log p_t`.
* Each loss's optimum, sampled with the factors of `trained_with=` that loss, reproduces the data's marginals:
  `g²·∇ₓ log p_t` with `ONE_STEP` (ODE `C = ½`, SDE `C = 1`), the probability-flow drift `½g²·∇ₓ log p_t` with
  `MULTI_STEP` (ODE `C = 1`). Swapped, the ODE contracts (`C = 1` on `g²·∇ₓ log p_t`) or widens (`C = ½` on the
  drift) the posterior.
* On this Gaussian-branched SDE the multi-step loss, like the 1-step loss, is minimised by `g²·∇ₓ log p_t`, not by
  the probability-flow drift that `MULTI_STEP`'s factors assume (see `phi_inverse.smdp.samplers`).
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
    """`g²·∇ₓ log p_t`, the optimum of the 1-step loss."""
    return DIFFUSION ** 2 * toy_sde.affine_score(x, t, RATE, DIFFUSION)


def probability_flow_drift(x, t):
    """`½g²·∇ₓ log p_t`, the score part of the probability-flow drift: the optimum of the multi-step loss."""
    return .5 * analytic_correction(x, t)


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


@pytest.mark.parametrize('trained_with, factor, correction, sampler', [
    (smdp.ONE_STEP, None, analytic_correction, 'ode'), (smdp.ONE_STEP, None, analytic_correction, 'sde'),
    (smdp.MULTI_STEP, None, probability_flow_drift, 'ode'), (smdp.MULTI_STEP, 2., probability_flow_drift, 'sde')],
    ids=['1-step-ode', '1-step-sde', 'multi-step-ode', 'multi-step-sde-equation-9'])
def test_each_loss_optimum_sampled_with_its_factors_reproduces_the_marginals(trained_with, factor, correction, sampler, torch_backend):
    """`trained_with=` alone picks the factors, except for equation 9's reverse SDE of the drift, `C = 2`, which
    `MULTI_STEP` does not use (it keeps the scenes' `C = 1`, see `smdp.samplers`)."""
    paths, t = affine_paths(4000), times()
    math.seed(1)
    predictor = smdp.probability_flow(physics(), correction, trained_with, correction_factor=factor) if sampler == 'ode' else \
        smdp.reverse_sde(physics(), correction, DIFFUSION, trained_with, correction_factor=factor)
    reconstructed = smdp.sample(paths[{TIME: -1}], t, predictor, trajectory=True)
    for m in (STEPS // 2, STEPS // 10, 1):
        data, model = paths[{TIME: m}].numpy(), reconstructed[{TIME: m}].numpy()
        np.testing.assert_allclose(_branch_stats(model), _branch_stats(data), rtol=.15, atol=2e-3, err_msg=f'time step {m}')
    x0 = reconstructed[{TIME: 0}].numpy()
    assert abs(np.mean(x0 > 0) - .5) < .03 and np.mean(abs(abs(x0) - 1) < .1) > .97


def test_the_factors_of_the_other_loss_contract_or_widen_the_branches(torch_backend):
    """`MULTI_STEP`'s `C = 1` on the 1-step optimum follows the reverse SDE's mean drift without its noise: each branch
    collapses. `ONE_STEP`'s `C = ½` on the multi-step optimum applies half the probability-flow drift: they widen."""
    paths, t = affine_paths(4000), times()
    data_spread = _branch_stats(paths[{TIME: STEPS // 2}].numpy())[1]

    def spread(correction, trained_with):
        reconstructed = smdp.sample(paths[{TIME: -1}], t, smdp.probability_flow(physics(), correction, trained_with), trajectory=True)
        return _branch_stats(reconstructed[{TIME: STEPS // 2}].numpy())[1]
    assert spread(analytic_correction, smdp.MULTI_STEP) < .6 * data_spread
    assert spread(probability_flow_drift, smdp.ONE_STEP) > 1.3 * data_spread


@pytest.mark.parametrize('window', [2, 10, 30])
def test_the_multi_step_loss_is_minimised_by_g_squared_times_the_score(window, torch_backend):
    """Over windows of the data, `L(a)` of the correction `a·g²·∇ₓ log p_t` is smallest near `a = 1`, and `a = ½`
    (the probability-flow drift) is worse by a margin that grows with the window."""
    paths, t = affine_paths(1000), times()
    starts = batch(start=len(range(0, STEPS + 2 - window, 3)))
    windows = math.stack([paths[{TIME: slice(s, s + window)}] for s in range(0, STEPS + 2 - window, 3)], starts)
    window_times = math.stack([t[{TIME: slice(s, s + window)}] for s in range(0, STEPS + 2 - window, 3)], starts)

    def loss(scale):
        step = smdp.reverse_step(physics(), lambda x, t_: scale * analytic_correction(x, t_))
        return float(math.mean(smdp.multi_step_loss(step, windows, window_times), 'examples,start'))
    losses = {scale: loss(scale) for scale in (.5, .8, 1., 1.25)}
    assert min(losses, key=losses.get) == 1.
    assert losses[.5] > (1.01 if window == 2 else 1.05) * losses[1.]


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
