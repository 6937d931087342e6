import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid
from phi.math import batch, extrapolation

from phi_inverse import smdp
from phi_inverse.smdp.losses import TIME


def decaying_window(size: int, rate: float = .5, dt: float = .1):
    """Deterministic states x_m = 2·e^{−rate·t_m}, for which x ↦ x·e^{rate·dt} is the exact reverse step."""
    times = math.tensor(np.arange(size) * dt, batch(TIME))
    return 2 * math.exp(-rate * times) * math.tensor([1., -1.], batch('examples')), times


def test_window_of_two_is_the_one_step_loss(backend):
    window = math.tensor([[1., 1.3], [-.5, -.2]], batch('examples', TIME))
    times = math.tensor([.2, .3], batch(TIME))
    step = smdp.reverse_step(smdp.euler(lambda x: -x), lambda x, t: x * t)
    one_step = smdp.one_step_loss(step, window[{TIME: 0}], window[{TIME: 1}], times[{TIME: 1}], .1)
    math.assert_close(smdp.multi_step_loss(step, window, times), one_step, rel_tolerance=1e-6)


def test_exact_reverse_step_has_zero_loss_and_an_offset_adds_its_rollout_error(backend):
    window, times = decaying_window(5)
    exact = lambda x, t, dt: x * math.exp(.5 * dt)
    math.assert_close(smdp.multi_step_loss(exact, window, times), 0, abs_tolerance=1e-5)
    offset = smdp.reverse_step(exact, lambda x, t: math.ones_like(x))  # adds dt per step: errors k·0.1·(growth)
    rollout_errors = [sum(.1 * np.exp(.05 * j) for j in range(k)) for k in range(1, 5)]
    math.assert_close(smdp.multi_step_loss(offset, window, times), sum(e ** 2 for e in rollout_errors), rel_tolerance=1e-4)


def test_gradient_flows_through_every_step(ml_backend):
    """With `x ← x + Δt·c`, the k-th prediction is `x_last + kΔt·c`, so ∂L/∂c = −2Σ_k kΔt·(x_k − x̂_k)."""
    window, times = decaying_window(4)
    c = math.tensor(.3)

    def loss(c_):
        step = smdp.reverse_step(smdp.no_physics, lambda x, t: c_ * math.ones_like(x))
        return math.sum(smdp.multi_step_loss(step, window, times), 'examples')
    gradient = math.gradient(loss, 'c_', get_output=False)(c)
    last = window[{TIME: -1}].numpy()
    data = window.numpy('examples,time')
    expected = sum(-2 * k * .1 * (data[:, -1 - k] - (last + k * .1 * .3)) for k in range(1, 4)).sum()
    assert float(gradient) == pytest.approx(expected, rel=1e-4)


def test_loss_of_grids_sums_over_cells(backend):
    grid = CenteredGrid(1., extrapolation.PERIODIC, x=4, y=3)
    window = math.stack([grid, grid * 2], batch(TIME))
    loss = smdp.multi_step_loss(lambda x, t, dt: x, window, math.tensor([0., .1], batch(TIME)))
    assert float(loss) == pytest.approx(12.)


def test_window_needs_two_states():
    with pytest.raises(ValueError, match='S >= 2'):
        smdp.multi_step_loss(lambda x, t, dt: x, math.zeros(batch(time=1)), math.zeros(batch(time=1)))


def test_curriculum_grows_then_holds():
    curriculum = smdp.WindowCurriculum(stop=6, steps_per_size=10, start=2, increment=2)
    assert [curriculum(i) for i in (0, 9, 10, 25, 1000)] == [2, 2, 4, 6, 6]
    spread = smdp.WindowCurriculum.spread(10, steps=1000, final_fraction=.2)
    assert spread(0) == 2 and spread(799) == 9 and spread(800) == 10
    with pytest.raises(ValueError):
        smdp.WindowCurriculum(stop=1, steps_per_size=10)


def test_jitter_keeps_the_ends_and_the_order(backend):
    math.seed(0)
    times = math.tensor(np.arange(33) * .2 / 32, batch(TIME))
    jittered = smdp.jitter_times(math.expand(times, batch(examples=64)), .2 / 32)
    shift = (jittered - times).numpy('examples,time')
    assert np.all(shift[:, [0, -1]] == 0) and np.all(np.abs(shift) <= .1 / 32 + 1e-7)
    assert np.all(np.diff(jittered.numpy('examples,time'), axis=1) > 0)
    assert np.std(shift[:, 1:-1]) > .02 / 32 and not np.allclose(shift[0], shift[1])


def test_start_only_noise_perturbs_the_rollout_start_alone(backend):
    math.seed(0)
    window = CenteredGrid(0, extrapolation.PERIODIC, x=32, y=32) * math.ones(batch(time=4))
    noise = smdp.add_training_noise(window, .3, start_only=True).values
    assert float(math.std(noise.time[-1], noise.shape.spatial)) == pytest.approx(.3, rel=.1)
    assert float(math.max(abs(noise.time[:-1]), noise.shape)) == 0


def test_training_noise_has_the_requested_scale(backend):
    math.seed(0)
    grid = CenteredGrid(0, extrapolation.PERIODIC, x=64, y=64)
    noisy = smdp.add_training_noise(grid, .3)
    assert isinstance(noisy, type(grid)) and noisy.extrapolation == grid.extrapolation
    assert float(math.std(noisy.values, noisy.values.shape)) == pytest.approx(.3, rel=.05)
