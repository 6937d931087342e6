"""Translation + vortex flows and the reverse-time vortex estimator, the SIP inverse of the marker-matching problem.

The estimator assumes that the initial velocity lies on the low-dimensional manifold

    x(p) = u + ω·g(|d|)·(−d_y, d_x),   g(r) = exp(−r²/(2σ²)),   d = p − c0   (minimum image),

a uniform translation `u` plus one Gaussian vortex of strength `ω` and width `σ` centred at `c0` at `t = 0`.
Such a flow translates as a whole: the vortex centre is at `c(t) = c0 + u·t`, and a marker at distance `r` from
it turns at the angular velocity `ω·g(r)`. All positions are periodic-aware (`minimum_image`,
`center_of_mass`).

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, appendix B.4
    ("Computation of SIP gradients").
"""
import math as pymath
from typing import Tuple

import numpy as np
from phi import field, math
from phi.field import CenteredGrid, Field
from phi.math import Tensor, batch

from . import TIME
from .navier_stokes import MarkerFlow
from ..support.checks import check_periodic_grid


def minimum_image(displacement: Tensor, size: Tensor) -> Tensor:
    """The periodic image of `displacement` closest to zero, each component in `[−size/2, size/2)`."""
    return (displacement + size / 2) % size - size / 2


def center_of_mass(marker: Field) -> Tensor:
    """Centre of mass of a marker on a periodic domain, inside the domain; a blob may straddle the boundary.

    First the circular mean `c₁ = lower + L/(2π)·atan2(Σ m sin φ, Σ m cos φ)`, `φ = 2π(p − lower)/L` per axis,
    finds the blob; then the ordinary mean of the minimum-image offsets from `c₁` gives the exact centre of mass
    of any marker that fits within half the domain: `c = c₁ + Σ m·mi(p − c₁) / Σ m`.

    Args:
        marker: Centred periodic scalar grid with non-negative values and positive total mass.

    Returns:
        Positions with the batch dimensions of `marker` and a channel dimension `vector`.
    """
    lower, size = marker.bounds.lower, marker.bounds.size
    points, mass = marker.points, marker.values
    total = math.sum(mass, marker.shape.spatial)
    phase = 2 * pymath.pi * (points - lower) / size
    angle = math.arctan(math.sum(mass * math.sin(phase), marker.shape.spatial), divide_by=math.sum(mass * math.cos(phase), marker.shape.spatial))
    reference = lower + size * angle / (2 * pymath.pi)
    offset = math.sum(mass * minimum_image(points - reference, size), marker.shape.spatial) / total
    return lower + (reference + offset - lower) % size


def unit_vortex(points: Tensor, centre: Tensor, width: float, size: Tensor) -> Tensor:
    """The unit-strength vortex `V₁(p) = g(|d|)·(−d_y, d_x)`, `d = mi(p − centre)`, at `points` on a periodic domain."""
    d = minimum_image(points - centre, size)
    return math.exp(-math.vec_squared(d) / (2 * width ** 2)) * perpendicular(d)


def vortex_basis(grid: Field, centre: Tensor, width: float) -> Field:
    """`V₁` sampled at the cell centres of `grid`, a centred vector grid."""
    values = unit_vortex(grid.points, centre, width, grid.bounds.size)
    return CenteredGrid(values, grid.extrapolation, grid.bounds, grid.resolution)


def translation_and_vortex(grid: Field, translation: Tensor, strength: Tensor, centre: Tensor, width: float) -> Field:
    """`u + ω·vortex_basis`, a centred vector grid on the domain of `grid`."""
    basis = vortex_basis(grid, centre, width)
    return basis * strength + translation


def fit_translation_and_vortex(velocity: Field, centre: Tensor, width: float) -> Tuple[Tensor, Tensor]:
    """The least-squares projection of a centred velocity onto the manifold: `(u, ω)`.

    `u` is the mean velocity (the vortex has zero mean by antisymmetry) and `ω = ⟨x − u, V₁⟩ / ⟨V₁, V₁⟩` with
    the unit vortex `V₁ = vortex_basis(velocity, centre, width)`. Exact on the manifold.
    """
    basis = vortex_basis(velocity, centre, width).values
    translation = math.mean(velocity.values, velocity.shape.spatial)
    dims = velocity.shape.spatial & basis.shape.channel
    strength = math.sum((velocity.values - translation) * basis, dims) / math.sum(basis ** 2, dims)
    return translation, strength


def reverse_vortex_update(initial_marker: Field, flow: MarkerFlow, centre, destination=None, width: float = 20.,
                          min_radius: float = 2.):
    """The reverse-time vortex estimator: an inverse update `Δx = x̃ − x` onto the translation + vortex manifold.

    Centres of mass alone cannot separate translation from rotation: every `(u, ω)` that carries the marker's
    centre of mass from `p0` to `p*` explains both equally well. As in the paper, the translation therefore
    comes from domain knowledge, the point the flow carries the marker to, and only the vortex is fitted:

    1. Translation: `ũ = mi(destination − p0) / T`, `p0` the centre of mass of `m0`.
    2. Strength of the guess: `ω` from `fit_translation_and_vortex(x)`.
    3. Run the guess with its translation replaced by `ũ`, `x' = x − mean(x) + ũ`, forward from `m0` to `m_f(T)`,
       `v_f(T)`. Then run the flow in reverse from `v_f(T)` with time step `−dt`, carrying two markers: the target
       `m*` and the forward run's own end `m_f(T)`. Let `p*(t)` and `p_f(t)` be their centres of mass at
       `t = 0, dt, …, T` and `e_t = mi(p_f(t) − p*(t))` their mismatch. Both markers see the same discrete flow,
       so its irreversibility (numerical diffusion) cancels: `e ≡ 0` when `m_f(T) = m*`, and an exact guess is
       an exact fixed point.
    4. Strength update. A marker's centre of mass moves with the marker-weighted mean velocity,
       `dp/dt = ⟨v⟩_m` (exact for incompressible transport). With a vortex stronger by `δω` the end marker
       `m_f(T)` has turned further by `T·⟨δω·V₁⟩`, and so has its reverse trajectory at every `t`, with `V₁`
       centred at `c(t) = c0 + ũ·t`. So `e_t ≈ (ω − ω*)·J_t`, `J_t = T·⟨V₁⟩_t` (`⟨·⟩` averaged over both
       markers at `t`): too strong a vortex overshoots and lowers `ω`. A damped Gauss–Newton step fits all
       `n + 1` time points at once:

           ω̃ = ω − Σ_t e_t·J_t / (Σ_t |J_t|² + (n + 1)·(r_min·T)²).

       The damping keeps `ω` where the marker hardly turns about the vortex (centre of mass near `c(t)`).
    5. `x̃ = ũ + ω̃·V₁`, `Δx = x̃ − x`. Small-scale structure of `x` is not estimated: `Δx` removes it.

    A flow of the manifold (translation to `destination` plus a vortex) is a fixed point, and a guess that turns
    the marker by less than half a turn too much or too little is drawn towards it. Like a Newton step, the update is scale-invariant: it
    estimates `x*` whatever the size of the mismatch, instead of following the gradient's magnitude.

    Args:
        initial_marker: The markers `m0` of the examples the update is applied to.
        flow: The simulation `P` (its `dt`, `steps` and solver), as used to produce the targets.
        centre: Vortex centre `c0` at `t = 0`, a `vector` Tensor (e.g. `vec(x=64, y=64)`), or one per example.
        destination: Where the translation carries the marker's centre of mass in time `T`; `centre` if `None`.
        width: Vortex width `σ`.
        min_radius: Damping radius `r_min`: markers closer than this to the vortex centre barely change `ω`.

    Returns:
        `update(x, *, y_target, y=None) -> Δx`, the inverse update of `phi_inverse.sip`; `y` is not needed.

    References:
        SIP paper, appendix B.4. The authors' code adds the mean of `cross(p_f − p_r, p_r − c)` times a fixed
        gain 10⁻³ to `ω` and places the vortex at `c0 + u·(steps − i)` (mixing steps and time); here the gain
        follows from the transport of the centre of mass and all times are physical.
    """
    check_periodic_grid(initial_marker, 'initial_marker', centred=True, vector=False)
    if initial_marker.shape.spatial.rank != 2:
        raise ValueError(f"The vortex estimator is two-dimensional but initial_marker has spatial shape {initial_marker.shape.spatial}.")
    centre = math.wrap(centre)
    destination = centre if destination is None else math.wrap(destination)
    duration, size = flow.duration, initial_marker.bounds.size
    translation = minimum_image(destination - center_of_mass(initial_marker), size) / duration

    def marker_mean(markers: Field, vortex_centre: Tensor) -> Tensor:
        mass = markers.values
        velocity = unit_vortex(markers.points, vortex_centre, width, size)
        return math.sum(mass * velocity, markers.shape.spatial) / math.sum(mass, markers.shape.spatial)

    def update(x: Field, *, y_target: Field, y: Field = None) -> Field:
        check_periodic_grid(x, 'x', centred=True, vector=True)
        _, strength = fit_translation_and_vortex(x, centre, width)
        guess = x + (translation - math.mean(x.values, x.shape.spatial))
        forward_markers, final_velocity = flow.forward(initial_marker, guess)
        ends = field.stack([forward_markers.time[-1], y_target], batch(reverse_of='forward,target'))
        reverse_markers = flow.reverse(ends, final_velocity)
        times = math.wrap(np.arange(flow.steps + 1) * flow.dt, batch(TIME))  # a constant (math.range fails in TF traces)
        centres_of_mass = center_of_mass(reverse_markers)
        mismatch = minimum_image(centres_of_mass.reverse_of['forward'] - centres_of_mass.reverse_of['target'], size)
        vortex_centre = centre + translation * times
        sensitivity = duration * math.mean(marker_mean(reverse_markers, vortex_centre), 'reverse_of')
        damping = times.shape.volume * (min_radius * duration) ** 2
        correction = math.sum(mismatch * sensitivity, f'{TIME},vector') / (math.sum(sensitivity ** 2, f'{TIME},vector') + damping)
        new_strength = strength - correction
        return translation_and_vortex(x, translation, new_strength, centre, width) - x
    return update


def perpendicular(vector: Tensor) -> Tensor:
    """`(−v_y, v_x)`: `vector` turned by 90° counter-clockwise."""
    x, y = vector.vector.item_names
    return math.stack({x: -vector.vector[y], y: vector.vector[x]}, math.channel('vector'))
