import numpy as np
import pytest
from phi import field, math
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Sphere
from phi.math import Solve, batch, channel, extrapolation, vec
from phi.physics import advect

from phi_inverse.metrics import values_of
from phi_inverse.physics import navier_stokes as ns, vortex
from .fluid_cases import DOMAIN, DT, marker_flow

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def max_abs(a, b=0) -> float:
    difference = values_of(a) - values_of(b)
    return float(math.max(abs(difference), dim=difference.shape))


def blob(centre=vec(x=24, y=30), radius=8., examples=2):
    with math.NUMPY:
        centres = math.stack([centre + vec(x=4 * i, y=0) for i in range(examples)], batch('b'))
        return math.convert(CenteredGrid(Sphere(centres, radius=radius), **DOMAIN))


def swirl(seed=0, examples=2, scale=20.):
    with math.NUMPY:
        math.seed(seed)
        return math.convert(CenteredGrid(Noise(batch(b=examples), channel(vector='x,y'), scale=20), **DOMAIN) * scale)


def test_staggered_projection_is_divergence_free(backend):
    v0 = swirl()
    velocity, _ = ns.staggered(v0)
    assert velocity.is_staggered and velocity.values.default_backend == backend
    before = max_abs(field.divergence(StaggeredGrid(v0, **DOMAIN)))
    assert max_abs(field.divergence(velocity)) < 1e-4 * before


def test_step_keeps_the_energy_and_moves_the_marker(backend):
    velocity, _ = ns.staggered(swirl())
    marker, velocity_1, _ = marker_flow(backend.name).step(blob(), velocity, blob() * 0)
    energy, energy_1 = ns.energy(velocity).numpy('b'), ns.energy(velocity_1).numpy('b')
    np.testing.assert_allclose(energy_1, energy, rtol=1e-5)
    assert max_abs(marker, blob()) > .1


def test_negative_dt_equals_negated_velocity():
    """The step is odd in (v, dt): step(m, v, p, −dt) == step(m, −v, −p, dt) with velocity and pressure negated."""
    velocity, pressure = ns.staggered(swirl())
    backwards = ns.step(blob(), velocity, pressure, -DT)
    negated = ns.step(blob(), -velocity, -pressure, DT)
    assert max_abs(backwards[0], negated[0]) < 1e-5
    assert max_abs(backwards[1], -negated[1]) < 1e-4 * max_abs(velocity)
    assert max_abs(backwards[0], blob()) > .1


def test_reverse_run_of_a_translation_returns_the_initial_marker(backend):
    """A uniform flow of 1.3 and 0.65 cells per step (not whole numbers), forward for two steps and back again."""
    starts = math.stack([vec(x=24, y=30), vec(x=40, y=20)], batch('b'))
    marker = CenteredGrid(lambda p: math.exp(-math.vec_squared(p - starts) / (2 * 10 ** 2)), **DOMAIN)
    flow = marker_flow(backend.name)
    markers, velocity = flow.forward(marker, CenteredGrid(math.expand(vec(x=10.4, y=-5.2), batch(b=2)), **DOMAIN))
    moved, back = markers.time[-1], flow.reverse(markers.time[-1], velocity).time[0]
    start = vortex.center_of_mass(marker).numpy('b,vector')  # off `starts` where the wide blob is cut by the boundary
    np.testing.assert_allclose(vortex.center_of_mass(moved).numpy('b,vector'), start + [10.4, -5.2], atol=.3)
    np.testing.assert_allclose(vortex.center_of_mass(back).numpy('b,vector'), start, atol=.3)
    assert max_abs(back, marker) < .1 * max_abs(moved, marker)


def test_warm_started_projection_matches_cold_start(backend):
    velocity, _ = ns.staggered(swirl(seed=1))
    advected = advect.mac_cormack(velocity, velocity, DT)
    _, previous = ns.staggered(swirl(seed=2))
    cold, cold_pressure = ns.project(advected, None)
    warm, warm_pressure = ns.project(advected, previous)
    assert max_abs(warm, cold) < 1e-3 * max_abs(cold)
    assert max_abs(warm_pressure, cold_pressure) < 1e-3 * max_abs(cold_pressure)


def test_frequency_loss_matches_numpy_fft():
    marker, target = blob(), blob(vec(x=28, y=34), radius=6.)
    loss = ns.frequency_loss(marker, target, falloff=40.).numpy('b')
    difference = (marker - target).values.numpy('b,x,y')
    k = np.fft.fftfreq(16, d=4.)
    k_squared = k[:, None] ** 2 + k[None, :] ** 2
    weights = np.where(k_squared > 0, np.exp(-.5 * 40 ** 2 * k_squared), 0)
    expected = np.sum(np.abs(np.fft.fft2(difference)) * weights, axis=(1, 2)) / 256
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    assert np.all(expected > 0)


def test_frequency_loss_ignores_the_mean_and_has_finite_gradient_at_the_target(torch_backend):
    marker = blob()
    assert max_abs(ns.frequency_loss(marker + 3., marker)) < 1e-6
    gradient = math.gradient(lambda m: math.sum(ns.frequency_loss(m, marker), 'b'), 'm', get_output=False)(marker)
    assert math.is_finite(gradient.values).all


def test_compiled_flow_and_its_gradient_match_eager_execution(torch_backend):
    """The JIT-traced simulation (forward and backward) against PhiFlow executed op by op."""
    flow, marker, v0, target = marker_flow('torch'), blob(), swirl(), blob(vec(x=30, y=26))
    assert max_abs(flow(marker, v0), ns.simulate(marker, v0, DT, 2)) < 1e-5
    markers, velocity = flow.forward(marker, v0)
    assert markers.shape.get_size('time') == 3 and max_abs(markers.time[-1], flow(marker, v0)) == 0

    def gradient(simulate):
        loss = lambda v: math.sum(ns.frequency_loss(simulate(marker, v), target), 'b')
        return math.gradient(loss, 'v', get_output=False)(v0)
    eager = gradient(lambda m, v: ns.simulate(m, v, DT, 2))
    assert max_abs(gradient(flow), eager) < 1e-3 * max_abs(eager)


def test_one_rollout_loop_serves_the_observation_and_the_compiled_flow(torch_backend):
    """`simulate`, `rollout` and a flow's runs share one loop: all markers, or only the last, from the same steps."""
    marker, v0 = blob(), swirl()
    velocity, _ = ns.staggered(v0)
    markers, final_velocity, _ = ns.rollout(marker, velocity, DT, 2)
    last, same_velocity, _ = ns.rollout(marker, velocity, DT, 2, keep=False)
    assert markers.shape.get_size('time') == 3 and max_abs(markers.time[0], marker) == 0
    assert max_abs(markers.time[-1], last) == 0 and max_abs(final_velocity, same_velocity) == 0
    assert max_abs(ns.simulate(marker, v0, DT, 2), last) == 0
    first = ns.step(marker, velocity, None, DT)
    assert max_abs(last, ns.step(*first, DT)[0]) == 0
    assert max_abs(markers.time[-1], ns.MarkerFlow(DT, 2).forward(marker, v0)[0].time[-1]) < 1e-5


def test_bad_inputs_name_the_fix():
    velocity, _ = ns.staggered(swirl())
    with pytest.raises(TypeError, match='CenteredGrid'):
        ns.rollout(velocity, velocity, .5, 1)
    with pytest.raises(ValueError, match='PERIODIC'):
        ns.rollout(CenteredGrid(0, extrapolation.ZERO, x=16, y=16), velocity, .5, 1)
    with pytest.raises(ValueError, match='pressure'):
        ns.project(velocity, None, Solve('CG', 1e-5, 1e-5, x0=CenteredGrid(0, **DOMAIN)))
    with pytest.raises(ValueError, match='steps'):
        ns.MarkerFlow(.25, 0)
