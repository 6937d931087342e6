"""The reverse simulator: an approximate inverse physics step `P̃⁻¹` plus a learned correction `s_θ`.

The physics SDE `dx = P(x) dt + g(t) dW` is stepped backwards in time by

    x_m ≈ x_{m+1} + Δt·[P̃⁻¹(x_{m+1}) + C·s_θ(x_{m+1}, t_{m+1})],

where `P̃⁻¹` moves the state back by `Δt` (here written as the whole physics step `x ↦ x + Δt·P̃⁻¹(x)`, so
that any step can be used: an analytic drift, a PhiFlow step run with `−Δt`, a learned surrogate), and
`s_θ(x, t)` corrects its errors and resolves the information the noise destroyed. Training uses `C = 1`;
the samplers choose `C` from the loss `s_θ` was trained with (see `phi_inverse.smdp.samplers`).

Contracts (states `x` are Tensors or Fields with batch dimensions; `t`, `Δt` broadcast against them):

* `ReversePhysics(x, t, dt) -> x_prev`: one physics step from time `t` back to `t − dt`;
* `Correction(x, t) -> s`: the learned correction, shaped like `x`;
* `ReverseStep(x, t, dt) -> x_prev`: the two combined.

A state may also be a dataclass of Fields and Tensors (e.g. marker and velocity of a flow) that supports `+`, `−`
and multiplication by numbers; `map_values` and `value_leaves` reach its value tensors.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 3.1, equation (2).
"""
import dataclasses
from typing import Callable, List, TypeVar, Union

from phi.field import Field
from phi.math import Tensor

from ..physics.sde import euler_step

X = TypeVar('X', Tensor, Field)
ReversePhysics = Callable[[X, Tensor, Tensor], X]
Correction = Callable[[X, Tensor], X]
ReverseStep = Callable[[X, Tensor, Tensor], X]


def reverse_step(physics: ReversePhysics, correction: Correction, correction_factor: Union[float, Tensor] = 1.) -> ReverseStep:
    """Combines `P̃⁻¹` and `s_θ` into `step(x, t, dt) = P̃⁻¹_dt(x) + dt·C·s_θ(x, t)`.

    Args:
        physics: The reverse physics step `P̃⁻¹`, e.g. `euler(drift)`, `negated_increment(step)` or `no_physics`.
        correction: `s_θ(x, t)`, usually a network; `None` for `P̃⁻¹` alone.
        correction_factor: `C`. 1 in training; see `phi_inverse.smdp.samplers` for inference.
    """
    if correction is None:
        return physics

    def step(x: X, t: Tensor, dt: Tensor) -> X:
        return physics(x, t, dt) + dt * correction_factor * correction(x, t)
    return step


def euler(reverse_drift: Callable[[X], X]) -> ReversePhysics:
    """`P̃⁻¹_dt(x) = x + dt·r(x)` for a reverse drift `r`, e.g. `r = −P` for the SDE `dx = P(x) dt + g dW`.

    The toy SDE `dx = −λ·sign(x)x² dt + g dW` has `r(x) = λ·sign(x)x²` (`toy_sde.reverse_drift(drift)`).
    """
    step = euler_step(reverse_drift)

    def physics(x: X, t: Tensor, dt: Tensor) -> X:
        return step(x, dt)
    return physics


def heun(reverse_drift: Callable[[X], X]) -> ReversePhysics:
    """`P̃⁻¹_dt(x) = x + dt/2·[r(x) + r(x + dt·r(x))]`, Heun's second-order step of the reverse drift `r`.

    Where the drift varies strongly over one step, Euler's `O(dt²)` error would otherwise be learned by `s_θ` as
    part of the correction, where the probability-flow ODE's `C = ½` halves it along with the score.
    """
    def physics(x: X, t: Tensor, dt: Tensor) -> X:
        drift = reverse_drift(x)
        return x + dt / 2 * (drift + reverse_drift(x + dt * drift))
    return physics


def negated_increment(forward_step: Callable[[X, Tensor], X]) -> ReversePhysics:
    """The forward step with `−Δt` applied to its increment: `P̃⁻¹_dt(x) = x − (P_dt(x) − x)`.

    For stiff physics such as diffusion this amplifies exactly what `P` damps, noise included, which is what the
    correction has to hold in check.

    Args:
        forward_step: `P_dt(x)`, the deterministic forward step by `dt`.
    """
    def physics(x: X, t: Tensor, dt: Tensor) -> X:
        return 2 * x - forward_step(x, dt)
    return physics


def no_physics(x: X, t: Tensor, dt: Tensor) -> X:
    """`P̃⁻¹_dt(x) = x`: the correction alone has to learn the whole reverse dynamics (the paper's "s_θ only")."""
    return x


def map_values(function: Callable[[Tensor], Tensor], x):
    """`function` applied to every value tensor of `x`: a Tensor, a Field, or a dataclass, tuple or list of them."""
    if isinstance(x, Tensor):
        return function(x)
    if isinstance(x, Field):
        return x.with_values(function(x.values))
    if dataclasses.is_dataclass(x):
        return dataclasses.replace(x, **{f.name: map_values(function, getattr(x, f.name)) for f in dataclasses.fields(x)})
    if isinstance(x, (tuple, list)):
        return type(x)(map_values(function, item) for item in x)
    raise TypeError(f"Expected a Tensor, Field or a dataclass/tuple of them but got {type(x).__name__}.")


def value_leaves(x) -> List[Tensor]:
    """The value tensors of `x` (see `map_values`), in order."""
    leaves = []
    map_values(lambda value: leaves.append(value) or value, x)
    return leaves
