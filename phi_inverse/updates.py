"""Generic inverse updates built from any forward simulation `P`: Newton-type steps, the normalised gradient,
a few iterations of an iterative solver, and the matrix-free Gauss–Newton–Krylov step for grids.

Each function is a factory: it binds `P` and the settings and returns an update
`update(x, *, y_target, y=None) -> Δx` with the signature of `phi_inverse.sip.InverseUpdate`, so that it can
drive SIP training (`sip.sip_loss`) or be iterated on its own. All updates act on every example of a batch
independently; `P` must therefore map each example on its own (no coupling along batch dimensions). They
minimise `L(x) = ½‖P(x) − y*‖²` per example and differentiate `P` automatically (PyTorch, TensorFlow, JAX).
`y` is accepted for the common signature; these updates re-simulate `P(x)` while differentiating.

The Newton-type updates form the Hessian `H = ∂²L/∂x²` of every example and work in its eigenbasis,
`g_k = u_kᵀ ∂L/∂x`, `|λ_k| = s_k` (see `derivatives.symmetric_decomposition`). They suit a few parameters
per example, as in the paper's characterisation experiments. `gauss_newton_krylov()` never forms a matrix and
suits Fields of any size (see `phi_inverse.krylov`).

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 2 (equation 2),
    section 3.4 and appendices B.1 (saddle-free Newton) and C.2 (normalised gradient).
    Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional non-convex
    optimization", NeurIPS 2014 (saddle-free Newton).
"""
import warnings
from typing import Callable, Optional

import numpy as np

from phi import math
from phi.math import Tensor, batch

from . import derivatives, krylov
from .derivatives import EIGEN, from_eigenbasis, gradient_and_hessian, inverse_problem_loss, symmetric_decomposition, to_eigenbasis
from .sip import InverseUpdate
from .support.autodiff import traceable

Forward = Callable[[Tensor], Tensor]
ITERATIVE_METHODS = ('L-BFGS-B', 'Gauss-Newton')


def newton(forward: Forward, eta: float = 1.) -> InverseUpdate:
    """Newton's step `Δx = −η H⁻¹ ∂L/∂x` (paper equation 2).

    On a quadratic `L` with `η = 1` it lands on the minimum in one step. It is attracted by maxima and saddle
    points as much as by minima; `saddle_free_newton()` is not. Directions of zero curvature get no step
    (pseudo-inverse).
    """
    def update(x: Tensor, *, y_target: Tensor, y: Optional[Tensor] = None) -> Tensor:
        g, h = gradient_and_hessian(inverse_problem_loss(forward, y_target), x)
        u, s, v = symmetric_decomposition(h)
        step = -eta * from_eigenbasis(v, math.divide_no_nan(to_eigenbasis(u, g), s))
        return derivatives.unflatten(step, x)
    return update


def saddle_free_newton(forward: Forward, max_loss_change: Optional[float] = None, eta: float = 1.) -> InverseUpdate:
    """Newton's step along each eigenvector of `H`, turned downhill: `Δx = −η Σ_k u_k g_k / |λ_k|`.

    Each component decreases `L` to first order (`g_k Δ_k ≤ 0`), so the update never climbs towards a maximum
    or saddle point. Where the curvature is small against the slope, the quadratic model is not to be trusted
    and the Newton step explodes. `max_loss_change` limits the predicted loss change of such components,
    `|g_k Δ_k| ≤ max_loss_change`, i.e. `|Δ_k| ≤ max_loss_change / |g_k|`; it applies to the directions whose
    curvature `|λ_k|` is at most the geometric mean of all `|λ|` of the example (all of them for one parameter),
    while the more strongly curved directions, where the quadratic model holds best, take their full Newton
    step. A flat direction (`λ_k = 0`) with a slope gets exactly the limit; without a limit it gets no step.

    Args:
        forward: The simulation `P`.
        max_loss_change: Limit of the first-order loss decrease per weakly curved eigen-component, or `None`.
            The paper uses 0.2.
        eta: Step size.

    References:
        Holl et al. 2022, appendix B.1, and the authors' code (sin_characterization/newton.py);
        Dauphin et al. 2014.
    """
    def update(x: Tensor, *, y_target: Tensor, y: Optional[Tensor] = None) -> Tensor:
        g, h = gradient_and_hessian(inverse_problem_loss(forward, y_target), x)
        u, s, _ = symmetric_decomposition(h)
        slope = to_eigenbasis(u, g)
        length = math.divide_no_nan(abs(slope), s)
        if max_loss_change is not None:
            weakly_curved = math.log(s) <= math.mean(math.log(s), EIGEN)
            limit = math.divide_no_nan(max_loss_change, abs(slope))
            length = math.where(weakly_curved, math.where(s > 0, math.minimum(length, limit), limit), length)
        return derivatives.unflatten(-eta * from_eigenbasis(u, length * math.sign(slope)), x)
    return update


def damped_newton(forward: Forward, damping: float = 0., max_step: Optional[float] = None) -> InverseUpdate:
    """Saddle-free Newton step with Levenberg damping and a clipped length per eigen-component.

    `Δ_k = −clip(g_k / (|λ_k| + damping), ±max_step)`, `Δx = Σ_k u_k Δ_k`. Damping blends Newton's step
    (`damping → 0`) into gradient descent with step `1 / damping`; clipping bounds the step where the curvature
    vanishes, as for `P(x) = eˣ` far from the solution.

    Args:
        forward: The simulation `P`.
        damping: `μ ≥ 0` added to every `|λ_k|`.
        max_step: Largest step per eigen-component in units of `x`, or `None`.

    References:
        Holl et al. 2022, appendix C.2 ("Newton" variants for the exponential function).
    """
    if damping < 0 or (max_step is not None and max_step <= 0):
        raise ValueError(f"damped_newton needs damping >= 0 and max_step > 0 (or None) but got damping={damping}, max_step={max_step}.")

    def update(x: Tensor, *, y_target: Tensor, y: Optional[Tensor] = None) -> Tensor:
        g, h = gradient_and_hessian(inverse_problem_loss(forward, y_target), x)
        u, s, _ = symmetric_decomposition(h)
        slope = to_eigenbasis(u, g)
        step = math.divide_no_nan(slope, s + damping)
        if max_step is not None:
            step = math.clip(step, -max_step, max_step)
        return derivatives.unflatten(-from_eigenbasis(u, step), x)
    return update


def normalized_gradient(forward: Forward, eta: float = 1.) -> InverseUpdate:
    """The gradient rescaled to unit magnitude per component, `Δx = −η sign(∂L/∂x)`.

    It keeps the direction of steepest descent per component but drops the gradient's scale, which for
    `P(x) = eˣ` spans many orders of magnitude across examples. `x` may be a Tensor or a Field.

    References:
        Holl et al. 2022, section 2 (Fig. 2, "Rescaled") and appendix C.2.
    """
    def update(x, *, y_target, y=None):
        return -eta * math.sign(derivatives.gradient(inverse_problem_loss(forward, y_target), x))
    return update


def gauss_newton_krylov(forward: Callable, iterations: int = 4, damping: float = 0., regularization: float = 0.,
                        preconditioner: Optional[Callable] = None, tolerance: float = 0., eta: float = 1.) -> InverseUpdate:
    """The damped Gauss–Newton step by a few matrix-free Krylov iterations, for `x` of any size (grids included).

    `Δx = −η (JᵀJ + μI)⁻¹ Jᵀ(P(x) − y*)` per example, solved approximately by `iterations` steps of preconditioned
    CGLS with `Jv` and `Jᵀw` from automatic differentiation (`phi_inverse.krylov.gauss_newton_step`). Unlike
    `normalized_gradient()` the step undoes the scale of `J` along every direction the Krylov space resolves, so it
    approaches the inverse-physics step as `iterations` grows; `preconditioner`, a known approximate inverse of
    `JᵀJ + μI` (e.g. `krylov.spectral_preconditioner` of the diffusion a simulation contains), makes few iterations
    enough. Works on Fields and Tensors on PyTorch, TensorFlow and JAX, eagerly and inside `math.jit_compile`.

    Args:
        forward: The simulation `P`, mapping each example on its own.
        iterations: Krylov iterations per update (each costs one `Jv` and one `Jᵀw`).
        damping: Levenberg damping relative to the curvature along the gradient (see `phi_inverse.krylov`).
        regularization: Tikhonov regularisation of `x + Δx` towards 0, relative like `damping`: the components of `x`
            that `P` does not observe are pulled to zero instead of being kept.
        preconditioner: Symmetric positive-definite approximation of `(JᵀJ + μI)⁻¹`, or `None`.
        tolerance: Relative residual at which an example stops iterating.
        eta: Step size η.

    References:
        Holl et al. 2022, sections 2 and 3.6 (scale-invariant updates where no analytic inverse is known).
    """
    if iterations < 1 or damping < 0 or regularization < 0 or tolerance < 0:
        raise ValueError(f"gauss_newton_krylov needs iterations >= 1 and damping, regularization, tolerance >= 0 but got "
                         f"iterations={iterations}, damping={damping}, regularization={regularization}, tolerance={tolerance}.")
    solve = traceable(lambda x, y_target: krylov.gauss_newton_step(forward, x, y_target, iterations, damping, regularization,
                                                                   preconditioner, tolerance))

    def update(x, *, y_target, y=None):
        return eta * solve(x, y_target)[0]
    return update


def iterative_inverse(forward: Forward, iterations: int, method: str = 'L-BFGS-B', damping: float = 0.,
                      tolerance: float = 0.) -> InverseUpdate:
    """`iterations` steps of an iterative solver started at `x`, as one update `Δx = x_n − x`.

    With few iterations this is a multi-step SIP update (`U = Δx_0 + … + Δx_{n−1}`, paper section 3.3,
    remarks); with many, a classical per-example inverse solver.

    Args:
        forward: The simulation `P`.
        iterations: Number of solver iterations `n ≥ 1`.
        method: `'L-BFGS-B'` (SciPy; every example is solved on its own, function evaluations are batched) or
            `'Gauss-Newton'`: `x ← x − (JᵀJ + μI)⁻¹ Jᵀ(P(x) − y*)` with the Jacobian `J` of `P`.
        damping: Levenberg damping `μ ≥ 0` of Gauss–Newton.
        tolerance: L-BFGS-B stops early for an example whose loss change or projected gradient falls below it.

    References:
        Holl et al. 2022, sections 3.1 and 3.3; appendix C.1 (L-BFGS-B fits of the wave packet).
    """
    if iterations < 1:
        raise ValueError(f"iterative_inverse needs iterations >= 1 but got {iterations}.")
    if method not in ITERATIVE_METHODS:
        raise ValueError(f"method must be one of {ITERATIVE_METHODS} but got '{method}'.")

    def update(x: Tensor, *, y_target: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if method == 'L-BFGS-B':
            return _scipy_minimize(inverse_problem_loss(forward, y_target), x, 'L-BFGS-B', iterations, tolerance) - x
        x_n = x
        for _ in range(iterations):
            x_n = x_n + gauss_newton_step(forward, x_n, y_target, damping)
        return x_n - x
    return update


def _scipy_minimize(loss: Callable[[Tensor], Tensor], x: Tensor, method: str, iterations: int, tolerance: float = 0.) -> Tensor:
    """Minimises a per-example loss with SciPy from `x`, every example on its own; returns the minimisers.

    Runs PhiML's batched SciPy driver (one SciPy solve per example, function and gradient evaluated for all examples
    at once) without `math.minimize`'s per-example bookkeeping, whose cost grows with the batch size. Unconverged or
    stalled examples return their last iterate.
    """
    backend = derivatives.require_low_dimensional(x, 'SciPy updates')
    flat = derivatives.flatten(x)
    examples, parameters = flat.shape.batch, flat.shape.only(derivatives.PARAMETER)

    def native_loss(x_native):
        per_example = loss(derivatives.unflatten(math.reshaped_tensor(x_native, [examples, parameters]), x))
        return math.sum(per_example, batch).native(), (math.reshaped_native(per_example, [examples]),)

    count = max(1, examples.volume)
    result = backend.minimize(method, native_loss, math.reshaped_native(flat, [examples, parameters]),
                              backend.as_tensor(np.full(count, tolerance)), np.full(count, iterations), False)
    x_min = math.reshaped_tensor(backend.as_tensor(backend.to_float(result.x)), [examples, parameters])
    return derivatives.unflatten(math.convert(x_min, backend), x)


def gauss_newton_step(forward: Forward, x: Tensor, y_target: Tensor, damping: float = 0.) -> Tensor:
    """One Gauss–Newton step `−(JᵀJ + μI)⁻¹ Jᵀ(P(x) − y*)` per example.

    `JᵀJ` is the Hessian of `x' ↦ ½‖P(x') − P(x)‖²` at `x' = x` (its residual vanishes there), so it comes from
    the same Hessian machinery without forming `J`.
    """
    y = math.stop_gradient(forward(x))
    _, gauss_newton_matrix = gradient_and_hessian(inverse_problem_loss(forward, y), x)
    g = derivatives.flatten(derivatives.gradient(inverse_problem_loss(forward, y_target), x))
    u, s, _ = symmetric_decomposition(gauss_newton_matrix)
    step = -from_eigenbasis(u, math.divide_no_nan(to_eigenbasis(u, g), s + damping))
    return derivatives.unflatten(step, x)


def compiled(update: InverseUpdate) -> InverseUpdate:
    """`update` JIT-compiled on its Tensor arguments with `math.jit_compile` (traced once per shape and backend).

    Meant for the Newton-type updates; not for L-BFGS-B, which runs in SciPy. `y` is not passed on (these
    updates re-simulate). Where a trace is impossible the update runs uncompiled, after one warning: on PyTorch
    when `torch.jit.trace` cannot record the backward pass (e.g. of `exp`, whose derivative reuses its output).
    TensorFlow traces it with `phi_inverse.support.compat`'s gradient fix.
    """
    trace = math.jit_compile(lambda x, y_target: update(x, y_target=y_target))
    untraceable = set()

    def compiled_update(x: Tensor, *, y_target: Tensor, y: Optional[Tensor] = None) -> Tensor:
        backend = x.default_backend.name
        if backend not in untraceable:
            try:
                return trace(x, y_target)
            except RuntimeError as error:
                untraceable.add(backend)
                warnings.warn(f"Running the inverse update uncompiled: {backend} cannot trace it ({str(error).splitlines()[0]})", RuntimeWarning)
        return update(x, y_target=y_target)
    return compiled_update
