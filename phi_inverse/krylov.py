"""Matrix-free Gauss–Newton steps for simulations on grids: a few Krylov iterations per example.

For `L(x) = ½‖P(x) − y*‖²` the Gauss–Newton step with Levenberg damping `μ` solves

    (JᵀJ + μI) Δx = −Jᵀ(P(x) − y*)

with the Jacobian `J = ∂P/∂x` at `x`. `J` is never formed: `Jv` and `Jᵀw` come from automatic differentiation
(`phi_inverse.support.autodiff.linearize`, one forward pass for all products), and the system is solved by
preconditioned CGLS: conjugate gradients on the normal equations that update the residual in observation space
and apply `Jᵀ` to it, the numerically stable variant. Every example of a batch is solved on its own:
step sizes and inner products are reduced over the non-batch dimensions only, and an example whose residual has
dropped below the tolerance stops moving while the others continue. The iteration count is fixed, so the solve
traces into `math.jit_compile`.

Damping and regularisation are relative: `μ = damping · ‖Jg‖²/‖g‖²` with the gradient `g = Jᵀ(P(x) − y*)`, the
curvature of `L` along the steepest-descent direction. They therefore scale with `JᵀJ` when `x` or `y` are
rescaled, and the step stays invariant to both scales, the property SIP needs (Holl et al. 2022, section 3).

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, sections 2, 3.6.
    Björck, "Numerical Methods for Least Squares Problems", SIAM 1996, chapter 7 (CGLS and its preconditioning).
"""
from typing import Callable, Optional, Tuple

from phi import math
from phi.field import Field
from phi.math import Tensor

from .support.autodiff import linearize, with_values

Operator = Callable[[object], object]


def inner(a: Tensor, b: Tensor) -> Tensor:
    """`⟨a, b⟩` per example: the sum over all non-batch dimensions of `a·b`."""
    return math.sum(a * b, dim=lambda s: s.non_batch)


def gauss_newton_step(forward: Callable, x, y_target, iterations: int, damping: float = 0., regularization: float = 0.,
                      preconditioner: Optional[Operator] = None, tolerance: float = 0.) -> Tuple[object, Tensor]:
    """The damped Gauss–Newton step by `iterations` steps of preconditioned CGLS, per example.

    Minimises the linearised `½‖J Δx + P(x) − y*‖² + ½μ_d‖Δx‖² + ½μ_r‖x + Δx‖²`, i.e. solves

        (JᵀJ + (μ_d + μ_r) I) Δx = −Jᵀ(P(x) − y*) − μ_r x.

    Levenberg damping `μ_d` shortens the step; Tikhonov regularisation `μ_r` pulls the components of `x + Δx` that
    `P` does not observe (`σ_k² ≪ μ_r` for the singular values `σ_k` of `J`) to zero instead of leaving them as
    they are in `x`, and leaves the observed ones (`σ_k² ≫ μ_r`) to the data.

    Args:
        forward: The simulation `P`, mapping each example on its own.
        x: Current estimate, a Field or Tensor with batch dimensions.
        y_target: Target observation `y*`, like `P(x)`.
        iterations: CGLS iterations `k ≥ 1`. With `k` at least the number of distinct singular values of `J` (and
            exact arithmetic) the step is exact; fewer iterations approximate it in a Krylov space dominated by
            the components of largest `σ_k` (without preconditioner), which regularises like a truncated SVD.
        damping: `μ_d` relative to `‖Jg‖²/‖g‖²`, `g = Jᵀ(P(x) − y*)`.
        regularization: `μ_r` relative to the same curvature.
        preconditioner: Symmetric positive-definite `M ≈ (JᵀJ + μI)⁻¹`, mapping values like `x` to values like `x`.
            An exact one makes CGLS converge in one iteration; see `spectral_preconditioner()`.
        tolerance: An example stops once `⟨s, Ms⟩ ≤ tolerance² ⟨s₀, Ms₀⟩` for the residual `s` of the normal equations.

    Returns:
        `(Δx, relative_residual)`: the step, like `x`, and `√(⟨s, Ms⟩/⟨s₀, Ms₀⟩)` per example after the last iteration.
    """
    if iterations < 1 or damping < 0 or regularization < 0 or tolerance < 0:
        raise ValueError(f"gauss_newton_step needs iterations >= 1 and damping, regularization, tolerance >= 0 but got "
                         f"iterations={iterations}, damping={damping}, regularization={regularization}, tolerance={tolerance}.")
    precondition = _on_values(preconditioner, x)
    x_values = math.stop_gradient(x.values if isinstance(x, Field) else x)
    linear = linearize(forward, math.stop_gradient(x))
    residual = (y_target.values if isinstance(y_target, Field) else y_target) - linear.y  # y* − P(x) − J Δx at Δx = 0
    gradient = linear.vjp(residual)
    j_gradient = linear.jvp(gradient) if damping or regularization or preconditioner is None else None
    curvature_scale = math.divide_no_nan(inner(j_gradient, j_gradient), inner(gradient, gradient)) if damping or regularization else 0
    mu_d, mu_r = damping * curvature_scale, regularization * curvature_scale
    normal_residual = gradient - mu_r * x_values if regularization else gradient
    z = precondition(normal_residual)
    direction, gamma = z, inner(normal_residual, z)
    gamma_0, step = gamma, 0 * z
    for i in range(iterations):
        j_direction = j_gradient if i == 0 and preconditioner is None and not regularization else linear.jvp(direction)
        active = gamma > tolerance ** 2 * gamma_0
        alpha = math.where(active, math.divide_no_nan(gamma, inner(j_direction, j_direction) + (mu_d + mu_r) * inner(direction, direction)), 0.)
        step = step + alpha * direction
        residual = residual - alpha * j_direction
        normal_residual = linear.vjp(residual) - (mu_d + mu_r) * step - mu_r * x_values
        z = precondition(normal_residual)
        gamma_next = inner(normal_residual, z)
        direction = z + math.where(active, math.divide_no_nan(gamma_next, gamma), 0.) * direction
        gamma = math.where(active, gamma_next, gamma)
    return with_values(x, step), math.sqrt(math.divide_no_nan(gamma, gamma_0))


def _on_values(preconditioner: Optional[Operator], like) -> Callable[[Tensor], Tensor]:
    """The preconditioner as a function of value tensors (the identity if `None`)."""
    if preconditioner is None:
        return lambda v: v
    if isinstance(like, Field):
        return lambda v: preconditioner(with_values(like, v)).values
    return preconditioner


def spectral_preconditioner(transfer: Tensor, floor: float = 1e-2) -> Operator:
    """`M = F⁻¹ diag(1 / (|h_k|² + floor·max|h|²)) F`, the preconditioner of a simulation close to the Fourier multiplier `h`.

    If `J` is close to a translation-invariant operator with transfer function `h_k` on a periodic grid (diffusion,
    `h_k = exp(−νt(2π|k|)²)`, times anything that roughly preserves norms, such as advection), `M` approximates
    `(JᵀJ)⁻¹`; `floor` bounds its gain by `1/floor`, where `h` has destroyed the signal.

    Args:
        transfer: `h_k` on the spatial dimensions of the FFT of `x` (NumPy-backed constants stay constants under JIT).
        floor: Relative floor of `|h|²`, > 0.

    Returns:
        `M`, mapping a periodic grid (or a Tensor with these spatial dimensions) to one of the same kind.
    """
    if floor <= 0:
        raise ValueError(f"The floor of the spectral preconditioner must be positive but got {floor}.")
    power = abs(transfer) ** 2
    inverse = 1 / (power + floor * math.max(power))
    dims = transfer.shape.spatial

    def precondition(v):
        values = v.values if isinstance(v, Field) else v
        values = math.real(math.ifft(math.fft(values, dims) * inverse, dims))
        return v.with_values(values) if isinstance(v, Field) else values
    return precondition
