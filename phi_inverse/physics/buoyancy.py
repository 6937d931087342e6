"""Buoyancy-driven smoke flow around obstacles in a closed box (SMDP paper, section 4.3 and appendix E).

The state is a pair `FlowState(smoke, velocity)`: a centred marker density with zero-gradient boundaries and a
staggered velocity that vanishes on the walls. One step of `Δt` (paper time; PhiFlow steps `dt = Δt/TIME_STEP`
in domain units, `dt = 1` for the paper's `Δt = 0.01`):

    s ← MacCormack(s, v, dt) + I·[t < 0.2]        marker transport, inflow I: a soft sphere at (50, 10), r = 5
    b ← s·(0, 0.1) sampled at the faces            buoyancy
    v ← SemiLagrangian(v, v, dt) + b·dt            self-advection and buoyancy
    v ← v − ∇p,  ∇·v = 0 with obstacles            pressure projection (explicit CG solve)

Obstacles are unions of boxes and spheres; the projection makes them solid and the marker is cleared inside
them.

The approximate inverse `P̃⁻¹` is the same operators with `−Δt`, applied in reverse order: buoyancy of the
current marker is subtracted, the velocity advected backwards and projected, and the marker (less the inflow of
the step, while it is active) advected backwards by the current velocity. It is exact where the flow is smooth
and slow; numerical diffusion and the projection make it lossy elsewhere, which `s_θ` corrects.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 4.3 and appendix E.
"""
from dataclasses import dataclass, fields
from typing import Sequence, Tuple, Union

from phi import field, math
from phi.field import CenteredGrid, Field, StaggeredGrid
from phi.geom import Box, Geometry, Sphere
from phi.math import Solve, Tensor, extrapolation
from phi.physics import advect, fluid
from phiml.dataclasses import sliceable

DOMAIN = Box(x=100, y=100)
INFLOW_CENTER = (50., 10.)
INFLOW_RADIUS = 5.
INFLOW_RATE = .2
INFLOW_END = .2
"""The inflow is active in steps that start before this time."""
BUOYANCY = (0., .1)
TIME_STEP = .01
"""`Δt` of the paper; one PhiFlow step of `dt = 1` in domain units."""
OBSTACLE = 'obstacle'
Obstacles = Tuple[Geometry, ...]
SMOKE_BOUNDARY = extrapolation.ZERO_GRADIENT
VELOCITY_BOUNDARY = extrapolation.ZERO
SOLVE = Solve('CG', rel_tol=1e-5, abs_tol=1e-5, max_iterations=2000, rank_deficiency=0)
"""The pressure solve. The closed box makes the pressure unique up to a constant; PhiML's augmented system for that
null space stops CG with `Diverged` once obstacles are present, while the plain singular system converges."""
REVERSE_SOLVE = Solve('CG', rel_tol=1e-5, abs_tol=1e-5, max_iterations=100, rank_deficiency=0,
                      suppress=(math.Diverged, math.NotConverged))
"""The pressure solve of `P̃⁻¹`, whose inputs (reconstructions, noisy training states) need not be physical: at most
100 CG iterations, keeping the last iterate instead of raising."""
MAX_SOLVE_CELLS = 2 ** 15
"""Cells of one pressure solve over a batch; larger batches are projected in chunks (`_project`)."""


@sliceable
@dataclass(frozen=True)
class FlowState:
    """Marker and velocity, a PhiML tree: sliceable (`state[{'time': -1}]`), stackable (`math.stack`), and closed
    under `+`, `−` and multiplication by numbers or Tensors, component by component, so that SMDP's losses and
    samplers treat it like one Field."""
    smoke: CenteredGrid
    velocity: StaggeredGrid

    @property
    def shape(self) -> math.Shape:
        """The marker's shape with the batch dimensions of both components."""
        return self.smoke.shape & self.velocity.shape.batch

    def _combine(self, other, operation) -> 'FlowState':
        if isinstance(other, FlowState):
            return FlowState(*(operation(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))
        return FlowState(*(operation(getattr(self, f.name), other) for f in fields(self)))

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b)

    def __radd__(self, other):
        return self._combine(other, lambda a, b: b + a)

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b)

    def __rsub__(self, other):
        return self._combine(other, lambda a, b: b - a)

    def __mul__(self, other):
        return self._combine(other, lambda a, b: a * b)

    def __rmul__(self, other):
        return self._combine(other, lambda a, b: b * a)

    def __truediv__(self, other):
        return self._combine(other, lambda a, b: a / b)

    def __neg__(self):
        return FlowState(-self.smoke, -self.velocity)


def empty_state(resolution: int, shape: math.Shape = math.EMPTY_SHAPE) -> FlowState:
    """No marker, no flow, on `resolution²` cells of `DOMAIN`, with batch dimensions `shape`."""
    smoke = CenteredGrid(math.zeros(shape), SMOKE_BOUNDARY, DOMAIN, x=resolution, y=resolution)
    velocity = StaggeredGrid(math.zeros(shape), VELOCITY_BOUNDARY, DOMAIN, x=resolution, y=resolution)
    return FlowState(smoke, velocity)


def inflow(smoke: CenteredGrid) -> CenteredGrid:
    """`I`: the marker added per step, `0.2` times the soft mask of the inflow sphere, on the grid of `smoke`."""
    sphere = Sphere(x=INFLOW_CENTER[0], y=INFLOW_CENTER[1], radius=INFLOW_RADIUS)
    return INFLOW_RATE * field.resample(sphere, to=smoke, soft=True)


def obstacles(box_lower: Tensor, box_upper: Tensor, sphere_center: Tensor, sphere_radius: Tensor) -> Obstacles:
    """Boxes and spheres, one geometry per entry of the dimension `obstacle`; unused ones have zero size.

    Each argument may carry batch dimensions (one set of obstacles per simulation).

    Args:
        box_lower, box_upper: Corners along `obstacle` and the channel `vector`.
        sphere_center: Centres along `obstacle` and `vector`; `sphere_radius`: radii along `obstacle`.
    """
    boxes = [Box(box_lower[{OBSTACLE: i}], box_upper[{OBSTACLE: i}]) for i in range(box_lower.shape.get_size(OBSTACLE))]
    spheres = [Sphere(sphere_center[{OBSTACLE: i}], radius=sphere_radius[{OBSTACLE: i}]) for i in range(sphere_radius.shape.get_size(OBSTACLE))]
    return tuple(boxes + spheres)


def obstacle_mask(geometries: Obstacles, like: CenteredGrid) -> CenteredGrid:
    """1 in cells whose centre lies inside an obstacle, 0 elsewhere."""
    inside = sum([math.to_float(g.lies_inside(like.points)) for g in geometries], math.zeros(like.shape))
    return like.with_values(math.minimum(inside, 1))


def _project(velocity: StaggeredGrid, geometry: Obstacles, solve: Solve) -> StaggeredGrid:
    """`make_incompressible`, in chunks along the largest batch dimension where the batch holds over
    `MAX_SOLVE_CELLS` cells: the solve of a batch whose entries have their own obstacles is one sparse matrix over
    all of them, which PhiML indexes with 32-bit integers (`cells² < 2³¹`)."""
    batch_shape = velocity.shape.batch
    per_solve = max(1, MAX_SOLVE_CELLS // velocity.resolution.volume)
    if batch_shape.volume <= per_solve:
        return fluid.make_incompressible(velocity, geometry, solve)[0]
    dim = max(batch_shape.names, key=batch_shape.get_size)
    size = batch_shape.get_size(dim)
    chunk = max(1, per_solve // (batch_shape.volume // size))
    parts = [_project(velocity[{dim: slice(i, i + chunk)}], tuple(g[{dim: slice(i, i + chunk)}] for g in geometry), solve)
             for i in range(0, size, chunk)]
    return field.concat(parts, dim)


def _project_gradient(inputs: dict, projected: StaggeredGrid, gradient: StaggeredGrid) -> dict:
    return {'velocity': _project(gradient, inputs['geometry'], inputs['solve'])}


project = math.custom_gradient(_project, _project_gradient, auxiliary_args='geometry,solve')
"""`v − ∇p` with `∇·v = 0` around the obstacles. The projection is orthogonal (self-adjoint on the faces of a
uniform grid), so its vector-Jacobian product is the projection of the incoming gradient; PhiFlow's own gradient of
the batched, obstacle-dependent solve fails to assemble its transposed matrix."""


def forget_projection_traces():
    """Drops the traces `project` keeps for its gradient. PhiML keeps one per eager call, and each call compares its
    arguments against all kept traces; call this between training steps, once the gradients are computed."""
    project.traces.clear()
    project.recorded_mappings.clear()


def step(state: FlowState, geometry: Obstacles, t: Union[float, Tensor], dt: Union[float, Tensor] = TIME_STEP,
         solve: Solve = SOLVE, differentiable: bool = True) -> FlowState:
    """One forward step from `t` to `t + Δt` (module docstring); `t` and `Δt` may vary along batch dimensions.

    `differentiable=False` uses PhiFlow's projection without the custom gradient of `project` (for compiled code
    that is not differentiated)."""
    steps = dt / TIME_STEP
    mask = obstacle_mask(geometry, state.smoke)
    active = math.to_float(t < INFLOW_END - 1e-6)
    smoke = (advect.mac_cormack(state.smoke, state.velocity, steps) + active * inflow(state.smoke)) * (1 - mask)
    buoyancy = field.resample(smoke * BUOYANCY, to=state.velocity)
    velocity = advect.semi_lagrangian(state.velocity, state.velocity, steps) + buoyancy * steps
    velocity = (project if differentiable else _project)(velocity, geometry, solve)
    return FlowState(smoke, velocity)


def reverse_step(state: FlowState, geometry: Obstacles, t: Union[float, Tensor], dt: Union[float, Tensor] = TIME_STEP,
                 solve: Solve = REVERSE_SOLVE, differentiable: bool = True) -> FlowState:
    """`P̃⁻¹`: from `t` back to `t − Δt` with the forward operators and `−Δt` (module docstring)."""
    steps = dt / TIME_STEP
    mask = obstacle_mask(geometry, state.smoke)
    active = math.to_float(t - dt < INFLOW_END - 1e-6)
    buoyancy = field.resample(state.smoke * BUOYANCY, to=state.velocity)
    velocity = advect.semi_lagrangian(state.velocity - buoyancy * steps, state.velocity, -steps)
    velocity = (project if differentiable else _project)(velocity, geometry, solve)
    smoke = advect.mac_cormack(state.smoke - active * inflow(state.smoke), state.velocity, -steps) * (1 - mask)
    return FlowState(smoke, velocity)


@math.jit_compile
def _compiled_step(state: FlowState, box_lower, box_upper, sphere_center, sphere_radius, t) -> FlowState:
    return step(state, obstacles(box_lower, box_upper, sphere_center, sphere_radius), t, solve=REVERSE_SOLVE, differentiable=False)


@math.jit_compile
def _compiled_reverse_step(state: FlowState, box_lower, box_upper, sphere_center, sphere_radius, t) -> FlowState:
    return reverse_step(state, obstacles(box_lower, box_upper, sphere_center, sphere_radius), t, solve=REVERSE_SOLVE, differentiable=False)


def compiled_step(state: FlowState, parameters: Sequence[Tensor], t: Tensor) -> FlowState:
    """`step` by `TIME_STEP`, JIT-compiled, with obstacles given by the parameters of `obstacles`."""
    return _compiled_step(_with_grid_caches(state), *parameters, t)


def compiled_reverse_step(state: FlowState, parameters: Sequence[Tensor], t: Tensor) -> FlowState:
    """`reverse_step` by `TIME_STEP`, JIT-compiled, with obstacles given by the parameters of `obstacles`."""
    return _compiled_reverse_step(_with_grid_caches(state), *parameters, t)


def _with_grid_caches(state: FlowState) -> FlowState:
    """`state` with the cached cell centres and spacing of its grids computed eagerly. The grids pass through the
    compiled functions as static objects; a cache first filled while tracing would keep a JAX tracer."""
    for grid in (state.smoke, state.velocity):
        grid.geometry.center, grid.geometry.dx
    return state


def simulate(state: FlowState, geometry: Obstacles, steps: int, start_time: float = 0., dt: float = TIME_STEP,
             solve: Solve = SOLVE) -> Sequence[FlowState]:
    """The states after `0 … steps` forward steps from `start_time`, as a list."""
    states = [state]
    for i in range(steps):
        states.append(step(states[-1], geometry, start_time + i * dt, dt, solve))
    return states


def kinetic_energy(velocity: StaggeredGrid) -> Tensor:
    """`½Σ v²·dx·dy` over all faces, per example."""
    squares = [math.sum(velocity.values[{'~vector': d}] ** 2, 'x,y') for d in 'xy']
    return .5 * sum(squares) * float(math.prod(velocity.dx, 'vector').max)

