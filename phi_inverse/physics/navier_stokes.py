"""Inviscid incompressible flow carrying a passive marker: the Navier–Stokes scene of the SIP paper.

One step of length `dt` on a periodic domain (SIP paper, appendix B.4):

    E = mean(v²)                          energy before the step
    v ← MacCormack(v, v, dt)              self-advection
    v ← v − ∇p  with  ∇²p = ∇·v           pressure projection (CG, warm-started with the previous pressure)
    v ← v · √(E / mean(v²))               energy renormalisation (advection and projection dissipate energy)
    m ← MacCormack(m, v, dt)              marker transport with the new velocity

The velocity lives on a staggered (MAC) grid, as in the paper: face velocities, the face-to-centre divergence
and the centre-to-face pressure gradient form the compact 5-point Laplacian, so a projected field is divergence
free to the solver tolerance. On a centred grid the projection uses a wide stencil whose null space contains
checkerboard modes that the projection cannot remove. The price is interpolation between the two face sets in
MacCormack advection (a centred step costs about half as much). Only the initial velocity `v0` (what a network
predicts) is given at cell centres; `staggered()` interpolates it to the faces and projects it.

Negative `dt` runs the flow backwards. The step is odd in `(v, dt)`: `step(m, v, p, −dt)` equals
`step(m, −v, −p, dt)` with the returned velocity and pressure negated, because every semi-Lagrangian lookup
`x − v·dt` is unchanged, advection and projection are linear in the advected velocity and the energy is even.
Inviscid flow is time-reversible, so a reverse run from `m(T), v(T)` retraces the forward run up to the numerical
diffusion of MacCormack advection.

PhiFlow trap: on a periodic grid the pressure is determined up to a constant, and `fluid.make_incompressible`
then asks PhiML to augment the system with a Lagrange multiplier (rank deficiency 1). The augmented matrix is
indefinite, and CG on it stops with `Diverged` for a sizeable fraction of examples (float32 and float64). The
divergence is balanced to zero mean before the solve, so the plain singular system is consistent and CG
converges on it: every `Solve` here passes `rank_deficiency=0`.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 4 and
    appendix B.4 (Navier–Stokes equations).
"""
from typing import Callable, Optional, Tuple

from phi import field, math
from phi.field import CenteredGrid, Field, StaggeredGrid
from phi.math import Solve, Tensor, batch, channel
from phi.physics import advect, fluid

from . import TIME
from ..support.checks import check_periodic_grid
from ..support.jit import jit_on_fields

DEFAULT_SOLVE = Solve('CG', rel_tol=1e-5, abs_tol=1e-5, max_iterations=500, rank_deficiency=0)
Step = Callable[[Field, Field, Optional[Field]], Tuple[Field, Field, Field]]


def staggered(v0: Field, solve: Solve = DEFAULT_SOLVE) -> Tuple[Field, Field]:
    """The divergence-free staggered velocity that a cell-centred `v0` stands for.

    Face values are linearly interpolated from the two adjacent cell centres, then projected.

    Args:
        v0: Centred periodic vector grid.
        solve: Pressure solve, started from zero.

    Returns:
        `(velocity, pressure)`: the projected staggered velocity and the pressure of the projection.
    """
    check_periodic_grid(v0, 'v0', centred=True, vector=True)
    faces = StaggeredGrid(v0, v0.extrapolation, v0.bounds, v0.resolution)
    return project(faces, None, solve)


def project(velocity: Field, pressure: Optional[Field], solve: Solve = DEFAULT_SOLVE) -> Tuple[Field, Field]:
    """`v − ∇p` with `∇²p = ∇·v`, PhiFlow's `make_incompressible`, warm-started with a previous `pressure`.

    The warm start is explicit: CG started from `p_prev` runs the same iterates as CG started from zero on the
    residual system `∇²δp = ∇·(v − ∇p_prev)`, so the projection of `v − ∇p_prev` is computed instead and
    `p = p_prev + δp` returned. This keeps traced values out of the `Solve`, which JAX cannot differentiate
    through inside a compiled function (`Solve(x0=<tracer>)` fails to lower).

    Args:
        velocity: Staggered periodic velocity.
        pressure: Previous pressure, or `None` to start from zero.
        solve: CG settings; `solve.x0` must be `None` (pass the warm start as `pressure`). Its tolerances
            apply to the residual system when warm-started.

    Returns:
        `(velocity, pressure)`, the projected velocity and its pressure.
    """
    if solve.x0 is not None:
        raise ValueError("Pass the warm start of the pressure solve as `pressure`, not as Solve(x0=...).")
    if pressure is not None:
        velocity = velocity - field.spatial_gradient(pressure, velocity.extrapolation, at=velocity.sampled_at)
    velocity, correction = fluid.make_incompressible(velocity, solve=math.copy_with(solve, rank_deficiency=0))
    return velocity, correction if pressure is None else pressure + correction


def energy(velocity: Field) -> Tensor:
    """`E = mean(v²)`: the mean squared face velocity, summed over components, per example."""
    return math.sum(field.mean(velocity ** 2), 'vector')


def step(marker: Field, velocity: Field, pressure: Optional[Field], dt: float,
         solve: Solve = DEFAULT_SOLVE) -> Tuple[Field, Field, Field]:
    """Advances marker and velocity by `dt` (negative: backwards in time).

    Args:
        marker: Centred periodic scalar grid `m`.
        velocity: Divergence-free staggered velocity `v` on the same domain.
        pressure: Pressure of the previous step (warm start), or `None` to start from zero.
        dt: Time step; negative values run the flow backwards.
        solve: Pressure solve; its tolerances apply, `x0` is replaced by `pressure`.

    Returns:
        `(marker, velocity, pressure)` after the step, of the same Field types.
    """
    initial_energy = energy(velocity)
    velocity = advect.mac_cormack(velocity, velocity, dt)
    velocity, pressure = project(velocity, pressure, solve)
    new_energy = energy(velocity)
    velocity *= math.where(new_energy > 0, math.sqrt(initial_energy / math.where(new_energy > 0, new_energy, 1)), 0)
    marker = advect.mac_cormack(marker, velocity, dt)
    return marker, velocity, pressure


def rollout(marker: Field, velocity: Field, dt: float, steps: int, solve: Solve = DEFAULT_SOLVE,
            pressure: Optional[Field] = None, keep: bool = True, step_function: Optional[Step] = None) -> Tuple[Field, Field, Field]:
    """Runs `steps` steps of `step()` from `(marker, velocity, pressure)`.

    Args:
        marker: Initial marker, centred periodic scalar grid.
        velocity: Initial divergence-free staggered velocity (see `staggered()` for a cell-centred `v0`).
        dt: Time step; negative values run the flow backwards.
        steps: Number of steps.
        solve: Pressure solve.
        pressure: Warm start of the first pressure solve.
        keep: Keep the marker of every step; otherwise return only the last.
        step_function: `(marker, velocity, pressure) -> (marker, velocity, pressure)`, one step with `dt` and
            `solve` bound (e.g. a compiled one); `step(…, dt, solve)` if `None`.

    Returns:
        `(markers, velocity, pressure)`: the markers at times `0, dt, …, steps·dt` stacked along the batch
        dimension `time` (or only the last marker if not `keep`), and the final velocity and pressure.
    """
    check_periodic_grid(marker, 'marker', centred=True, vector=False)
    check_periodic_grid(velocity, 'velocity', centred=False, vector=True)
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer but got {steps}.")
    step_function = step_function or (lambda m, v, p: step(m, v, p, dt, solve))
    markers = [marker]
    for _ in range(int(steps)):
        marker, velocity, pressure = step_function(marker, velocity, pressure)
        if keep:
            markers.append(marker)
    return (field.stack(markers, batch(TIME)) if keep else marker), velocity, pressure


def simulate(marker: Field, v0: Field, dt: float, steps: int, solve: Solve = DEFAULT_SOLVE) -> Field:
    """The observation `P(v0) = m(T)`, `T = steps·dt`: the marker after transporting it with the flow from `v0`.

    Args:
        marker: Initial marker `m0`, centred periodic scalar grid.
        v0: Initial velocity at cell centres (made divergence-free on the staggered grid first).
        dt: Time step.
        steps: Number of steps.
        solve: Pressure solve.

    Returns:
        `m(T)`, a centred grid like `marker`. Differentiable with respect to `v0` (and `marker`).
    """
    return rollout(marker, staggered(v0, solve)[0], dt, steps, solve, keep=False)[0]


class MarkerFlow:
    """The simulation of the scene, `P(v0) = m(T)`: `steps` steps of `dt` from a cell-centred `v0`, optionally compiled.

    Bundles the settings that the observation, the forward run and the reverse run must share, so that the
    inverse update (`vortex.reverse_vortex_update`) runs exactly the simulation that produced the data.
    Compilation covers one step (and the initial projection) rather than whole runs: a trace of PhiFlow's
    operators takes seconds to build, the Python loop over compiled steps costs little, and the forward run,
    the reverse run and the observation share the traces.

    Args:
        dt: Time step of the forward run (`T = steps·dt`); the reverse run uses `−dt`.
        steps: Number of steps.
        solve: Pressure solve of every projection.
        template: A centred scalar grid of the domain (values ignored). If given, the step and the initial
            projection are JIT-compiled for that grid on backends that can compile (`jit.jit_on_fields`).
    """

    def __init__(self, dt: float = .25, steps: int = 8, solve: Solve = DEFAULT_SOLVE, template: Optional[Field] = None):
        if dt <= 0 or int(steps) != steps or steps < 1:
            raise ValueError(f"MarkerFlow needs dt > 0 and an integer steps >= 1 but got dt={dt}, steps={steps}; "
                             f"reverse runs take -dt themselves.")
        self.dt, self.steps, self.solve = float(dt), int(steps), solve
        self._stagger = lambda v0: staggered(v0, solve)
        self._step = {direction: self._step_function(direction * self.dt) for direction in (1, -1)}
        if template is not None:
            self._compile(template)

    @property
    def duration(self) -> float:
        """`T = steps·dt`."""
        return self.dt * self.steps

    def __call__(self, marker: Field, v0: Field) -> Field:
        """`m(T)` from the initial marker and the cell-centred initial velocity (differentiable)."""
        return self._run(marker, self._stagger(v0)[0], 1, keep=False)[0]

    def forward(self, marker: Field, v0: Field) -> Tuple[Field, Field]:
        """`(markers, v(T))`: the markers at `t = 0, dt, …, T` along `time` and the final staggered velocity."""
        return self._run(marker, self._stagger(v0)[0], 1, keep=True)

    def reverse(self, marker: Field, velocity: Field) -> Field:
        """The markers of a run backwards in time from `m(T)`, `v(T)`, ordered like `forward()`: `t = 0, dt, …, T`.

        `marker` may have batch dimensions that `velocity` lacks: those markers are carried by the same flow, whose
        velocity and pressure are computed once.
        """
        return self._run(marker, velocity, -1, keep=True)[0].time[::-1]

    def step(self, marker: Field, velocity: Field, pressure: Field, reverse: bool = False) -> Tuple[Field, Field, Field]:
        """One step of `dt` (or `−dt`), compiled if the flow is: `step(marker, velocity, pressure, ±dt, solve)`."""
        return self._step[-1 if reverse else 1](marker, velocity, pressure)

    def _run(self, marker: Field, velocity: Field, direction: int, keep: bool) -> Tuple[Field, Field]:
        check_periodic_grid(marker, 'marker', centred=True, vector=False)
        pressure = marker.with_values(math.zeros(velocity.shape.batch & marker.shape.spatial))
        markers, velocity, _ = rollout(marker, velocity, direction * self.dt, self.steps, self.solve, pressure, keep, self._step[direction])
        return markers, velocity

    def _step_function(self, dt: float):
        return lambda marker, velocity, pressure: step(marker, velocity, pressure, dt, self.solve)

    def _compile(self, template: Field):
        check_periodic_grid(template, 'template', centred=True, vector=False)
        v0 = CenteredGrid(math.zeros(channel(vector=template.resolution.names)), template.extrapolation, template.bounds, template.resolution)
        velocity = StaggeredGrid(0, template.extrapolation, template.bounds, template.resolution)
        self._stagger = jit_on_fields(self._stagger, [v0], [velocity, template])
        self._step = {d: jit_on_fields(f, [template, velocity, template], [template, velocity, template]) for d, f in self._step.items()}


def frequency_loss(marker: Field, target: Field, falloff: float = 160.) -> Tensor:
    """The marker mismatch in frequency space that the backpropagation baseline minimises, per example.

    `L = (1/N) Σ_k |F(m − m*)_k| · w_k`,  `w_k = exp(−½ (ℓ·|k|)²)`,  `w_0 = 0`,

    with the unnormalised FFT over `N` cells and `k` in cycles per unit length (so `ℓ` is a physical length and
    the loss does not depend on the resolution). Low frequencies dominate: the loss measures the coarse match of
    the marker first, which gives smoother gradients than a cell-wise L2 loss. The mean (`k = 0`) is ignored.
    `|z|` is evaluated as `√max(|z|², 10⁻¹⁰)` so the gradient is finite where the spectra agree.

    Args:
        marker: Simulated marker `m(T)`, centred grid.
        target: Target marker `m*`, like `marker`.
        falloff: Length `ℓ` of the Gaussian weighting; the paper's 80 cells of size 2 (`ℓ = 160`) by default.

    References:
        SIP paper, appendix B.4 ("weighting vector that factors high frequencies exponentially less").
    """
    difference = (marker - target).values
    spatial_shape = difference.shape.spatial
    k_squared = math.sum(math.fftfreq(spatial_shape, marker.dx) ** 2, 'vector')
    weights = math.where(k_squared > 0, math.exp(-.5 * falloff ** 2 * k_squared), 0)
    spectrum = math.fft(difference)
    magnitude = math.sqrt(math.maximum(math.real(spectrum) ** 2 + math.imag(spectrum) ** 2, 1e-10))
    return math.sum(magnitude * weights, spatial_shape) / spatial_shape.volume
