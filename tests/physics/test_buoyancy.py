import numpy as np
import pytest
from phi import field, math
from phi.physics.fluid import make_incompressible as fluid_projection
from phi.field import StaggeredGrid
from phi.math import batch, channel, instance

from phi_inverse.physics import buoyancy
from phi_inverse.support import backends

RESOLUTION = 16


@pytest.fixture(params=['torch'])
def backend(request):
    """PyTorch as the context backend; `test_torch_and_jax_agree` covers JAX (eager JAX costs about a minute per test
    on this 2-core machine)."""
    pytest.importorskip(request.param)
    selected = backends.get(request.param)
    with selected:
        yield selected


def obstacle_parameters(examples: int = 1):
    """One box at x ∈ [10, 30], y ∈ [60, 72] and one sphere at (75, 75), r = 10, per example."""
    def tensor(value, *dims):
        return math.tensor(np.broadcast_to(np.asarray(value, np.float32), (examples,) + np.shape(value)), batch('examples'), *dims)
    vector = channel(vector='x,y')
    return (tensor([[10., 60.]], instance('obstacle'), vector), tensor([[30., 72.]], instance('obstacle'), vector),
            tensor([[75., 75.]], instance('obstacle'), vector), tensor([10.], instance('obstacle')))


def smooth_state(examples: int = 1) -> buoyancy.FlowState:
    """A marker blob and a weak rotating flow in the lower half of the domain, away from the obstacles."""
    state = buoyancy.empty_state(RESOLUTION, batch(examples=examples))
    blob = state.smoke.with_values(lambda p: math.exp(-math.vec_squared(p - math.vec(x=50, y=30)) / 150))
    swirl = StaggeredGrid(lambda p: 2 * math.vec(x=math.sin(p.vector['y'] * np.pi / 100), y=0. * p.vector['x']) * math.sin(p.vector['x'] * np.pi / 100),
                          buoyancy.VELOCITY_BOUNDARY, buoyancy.DOMAIN, x=RESOLUTION, y=RESOLUTION)
    return buoyancy.FlowState(blob, state.velocity + swirl)


def test_a_step_and_its_reverse_return_close_to_the_start(backend):
    """Without obstacles and inflow, `P̃⁻¹` undoes most of a step of a smooth, resolved flow."""
    geometry = ()
    start = buoyancy.FlowState(smooth_state().smoke, buoyancy.project(smooth_state().velocity, geometry, buoyancy.SOLVE))
    forward = buoyancy.step(start, geometry, .4)
    back = buoyancy.reverse_step(forward, geometry, .41)
    for component in ('smoke', 'velocity'):
        change = _norm(getattr(forward, component).values - getattr(start, component).values)
        error = _norm(getattr(back, component).values - getattr(start, component).values)
        assert error < .5 * change, component  # not moving back gives `change`, moving on `2·change`


def _norm(values) -> float:
    return float(math.sqrt(math.sum(values ** 2, values.shape)))


def test_reverse_step_removes_the_inflow_it_added(backend):
    geometry = buoyancy.obstacles(*obstacle_parameters())
    empty = buoyancy.empty_state(RESOLUTION, batch(examples=1))
    back = buoyancy.reverse_step(buoyancy.step(empty, geometry, 0.), geometry, .01)
    assert float(math.max(abs(back.smoke.values), back.smoke.shape)) < .02 * buoyancy.INFLOW_RATE
    later = buoyancy.step(empty, geometry, .3)
    assert float(math.max(abs(later.smoke.values), later.smoke.shape)) == 0


def test_obstacles_stay_free_of_smoke_and_flow(backend):
    parameters = obstacle_parameters()
    geometry = buoyancy.obstacles(*parameters)
    states = buoyancy.simulate(buoyancy.empty_state(RESOLUTION, batch(examples=1)), geometry, 12)
    mask = buoyancy.obstacle_mask(geometry, states[0].smoke)
    assert float(math.sum(mask.values, mask.shape)) > 10
    for state in (states[-1], buoyancy.reverse_step(states[-1], geometry, .12)):
        assert float(math.max(state.smoke.values * mask.values, mask.shape)) == 0
        centred = state.velocity.at_centers().values
        assert float(math.max(math.vec_length(centred) * _eroded(mask.values), centred.shape.non_channel)) < 1e-5
    assert float(math.max(states[-1].smoke.values, mask.shape)) > .1


def _eroded(mask):
    """Cells whose four neighbours are all inside the obstacle, so that every face around them is an obstacle face."""
    padded = math.pad(mask, {'x': (1, 1), 'y': (1, 1)}, 0)
    neighbours = [padded.x[2:].y[1:-1], padded.x[:-2].y[1:-1], padded.x[1:-1].y[2:], padded.x[1:-1].y[:-2]]
    return mask * math.prod(math.stack(neighbours, channel('n')), 'n')


def test_projection_removes_energy_and_divergence(backend):
    geometry = buoyancy.obstacles(*obstacle_parameters(2))
    math.seed(0)
    state = buoyancy.empty_state(RESOLUTION, batch(examples=2))
    velocity = state.velocity.with_values(math.random_normal(state.velocity.values.shape))
    projected = buoyancy.project(velocity, geometry, buoyancy.SOLVE)
    before, after = buoyancy.kinetic_energy(velocity), buoyancy.kinetic_energy(projected)
    assert np.all(after.numpy('examples') < .9 * before.numpy('examples'))
    again = buoyancy.kinetic_energy(buoyancy.project(projected, geometry, buoyancy.SOLVE))
    assert np.all(again.numpy('examples') <= after.numpy('examples') * (1 + 1e-4))
    fluid = _eroded(1 - buoyancy.obstacle_mask(geometry, state.smoke).values)
    divergence_before, divergence = (field.divergence(v).values * fluid for v in (velocity, projected))
    assert float(math.max(abs(divergence), divergence.shape)) < 1e-2 * float(math.max(abs(divergence_before), divergence.shape))


def test_a_batch_over_the_solve_limit_is_projected_in_chunks_as_a_whole(backend, monkeypatch):
    """Each example keeps its own obstacles when `project` splits a batch into chunks of `MAX_SOLVE_CELLS` cells."""
    lower, upper, center, radius = obstacle_parameters(3)
    geometry = buoyancy.obstacles(lower, upper, center - math.tensor([0., 10., 20.], batch('examples')), radius)
    math.seed(2)
    velocity = buoyancy.empty_state(RESOLUTION, batch(examples=3)).velocity
    velocity = velocity.with_values(math.random_normal(velocity.values.shape))
    whole = buoyancy.project(velocity, geometry, buoyancy.SOLVE)
    solves = []
    monkeypatch.setattr(buoyancy, 'MAX_SOLVE_CELLS', 2 * RESOLUTION ** 2)
    monkeypatch.setattr(buoyancy.fluid, 'make_incompressible', lambda v, *a: solves.append(v.shape) or fluid_projection(v, *a))
    buoyancy.forget_projection_traces()
    chunked = buoyancy.project(velocity, geometry, buoyancy.SOLVE)
    assert [s.get_size('examples') for s in solves] == [2, 1]
    math.assert_close(chunked.values, whole.values, abs_tolerance=1e-3)


def test_projection_gradient_is_the_projection(torch_backend):
    """`P` is self-adjoint: `∂⟨P(a), b⟩/∂a = P(b)`, the custom gradient of `buoyancy.project`."""
    geometry = buoyancy.obstacles(*obstacle_parameters())
    math.seed(1)
    template = buoyancy.empty_state(RESOLUTION, batch(examples=1)).velocity
    a, b = (template.with_values(math.random_normal(template.values.shape)) for _ in range(2))

    def inner(values):
        return math.sum(buoyancy.project(template.with_values(values), geometry, buoyancy.SOLVE).values * b.values)
    gradient = math.gradient(inner, 'values', get_output=False)(a.values)
    math.assert_close(gradient, buoyancy.project(b, geometry, buoyancy.SOLVE).values, abs_tolerance=1e-4)


def test_torch_and_jax_agree():
    results = []
    for name in ('torch', 'jax'):
        pytest.importorskip(name)
        with backends.get(name):
            geometry = buoyancy.obstacles(*obstacle_parameters())
            state = buoyancy.simulate(buoyancy.empty_state(RESOLUTION, batch(examples=1)), geometry, 4)[-1]
            state = buoyancy.reverse_step(state, geometry, .04)
            results.append((state.smoke.values.numpy('examples,x,y'), state.velocity.values[{'~vector': 'y'}].numpy('examples,x,y')))
    for torch_values, jax_values in zip(*results):
        np.testing.assert_allclose(torch_values, jax_values, atol=1e-4)


def test_compiled_steps_on_jax_repeat_the_eager_steps():
    """The compiled steps keep working across calls (a grid cache filled while tracing would leak a JAX tracer) and
    compute what the eager steps compute. The state starts empty, so its grids' caches are first filled in the trace."""
    pytest.importorskip('jax')
    with backends.get('jax'):
        parameters = obstacle_parameters()
        geometry = buoyancy.obstacles(*parameters)
        compiled = eager = buoyancy.empty_state(RESOLUTION, batch(examples=1))
        for i in range(3):
            t = math.tensor(i * buoyancy.TIME_STEP)
            compiled = buoyancy.compiled_step(compiled, parameters, t)
            eager = buoyancy.step(eager, geometry, t, solve=buoyancy.REVERSE_SOLVE, differentiable=False)
        t = math.tensor(3 * buoyancy.TIME_STEP)
        compiled = buoyancy.compiled_reverse_step(compiled, parameters, t)
        eager = buoyancy.reverse_step(eager, geometry, t, solve=buoyancy.REVERSE_SOLVE, differentiable=False)
        math.assert_close(compiled.smoke.values, eager.smoke.values, abs_tolerance=1e-4)
        math.assert_close(compiled.velocity.values, eager.velocity.values, abs_tolerance=1e-4)
