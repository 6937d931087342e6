"""Per-example derivatives of the inverse-problem loss `L(x) = ½‖P(x) − y*‖²`, for low-dimensional `x`.

The examples of a batch are independent, so the gradient of the batch sum `Σ_b L(x_b)` with respect to `x`
holds every example's own gradient, and the same holds for each row of the Hessian. Gradients and Hessians
come from automatic differentiation on the backend of `x` (PyTorch, TensorFlow or JAX); NumPy cannot
differentiate. Hessians are dense in the non-batch entries of `x`, so they are meant for a handful of
parameters per example, not for grids.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 2, equation (2).
"""
from typing import Callable, Tuple

import numpy as np

from phi import math
from phi.field import Field
from phi.math import Tensor, batch, channel, dual
from phiml.backend import Backend

from .metrics import half_squared_norm

PARAMETER = 'parameter'
EIGEN = 'eigen'


def inverse_problem_loss(forward: Callable[[Tensor], Tensor], y_target: Tensor) -> Callable[[Tensor], Tensor]:
    """`x ↦ ½‖P(x) − y*‖²` per example, summed over every non-batch dimension of the observation."""
    return lambda x: half_squared_norm(forward(x) - y_target)


def gradient(loss: Callable, x):
    """`∂L/∂x` per example, with the structure of `x` (Tensor or Field).

    Args:
        loss: Per-example loss; examples must not interact.
        x: Point at which to differentiate.
    """
    require_autodiff(x)
    return math.gradient(lambda x: math.sum(loss(x), batch), 'x', get_output=False)(x)


def gradient_and_hessian(loss: Callable[[Tensor], Tensor], x: Tensor) -> Tuple[Tensor, Tensor]:
    """`∂L/∂x` and `∂²L/∂x²` per example, with the non-batch entries of `x` flattened into one `parameter` dimension.

    Args:
        loss: Per-example loss of a Tensor shaped like `x`; examples must not interact.
        x: Tensor with batch dimensions and a few non-batch entries.

    Returns:
        `(g, H)`: `g` has dimensions `(batch…, parameter)`, `H` has `(batch…, parameter, ~parameter)`.
    """
    backend = require_low_dimensional(x, 'Hessian-based updates')
    flat = flatten(x)
    flat_loss = lambda v: loss(unflatten(v, x))
    if backend.supports(Backend.hessian):
        return _backend_hessian(backend, flat_loss, flat)
    return _nested_gradient_hessian(flat_loss, flat)


def _nested_gradient_hessian(loss: Callable[[Tensor], Tensor], x: Tensor) -> Tuple[Tensor, Tensor]:
    """Differentiates the gradient once more. All rows in one backward pass: row `k` of example `b` is the gradient
    of `g_k` at a copy of `x_b` placed along an extra `row` dimension."""
    size = x.shape.get_size(PARAMETER)
    per_example_gradient = math.gradient(lambda x: math.sum(loss(x), batch), 'x', get_output=False)

    selector = math.tensor(np.eye(size), batch('row'), channel(PARAMETER))

    def diagonal_sum(rows: Tensor):
        g = per_example_gradient(rows)
        return math.sum(g * selector, dim=lambda s: s), g

    rows = math.stack([x] * size, batch('row'))
    (_, g), hessian = math.gradient(diagonal_sum, 'rows', get_output=True)(rows)
    g = g.row[0]
    return g, math.rename_dims(hessian, 'row', dual(PARAMETER))


def _backend_hessian(backend: Backend, loss: Callable[[Tensor], Tensor], x: Tensor) -> Tuple[Tensor, Tensor]:
    """The backend's own batched Hessian (PyTorch, whose `math.gradient` cannot be nested)."""
    examples, parameters = x.shape.batch, x.shape.only(PARAMETER)
    native_loss = lambda native: math.reshaped_native(loss(math.reshaped_tensor(native, [examples, parameters])), [examples])
    native = math.reshaped_native(x, [examples, parameters])
    _, (g,), ((h,),) = backend.hessian(native_loss, [0], get_output=True, get_gradient=True)(native)
    g = math.reshaped_tensor(g, [examples, parameters])
    h = math.reshaped_tensor(h, [examples, parameters, parameters.as_dual()])
    return math.stop_gradient(g), math.stop_gradient(h)


def symmetric_decomposition(hessian: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """`H = U diag(s) Vᵀ` per example (singular value decomposition of a symmetric matrix).

    For symmetric `H`, `s_k = |λ_k|` and the columns of `U` span the eigenspaces, so `|H| = U diag(s) Uᵀ`
    (the saddle-free metric of Dauphin et al. 2014) and `H⁻¹ = V diag(1/s) Uᵀ`, even where eigenvalues of
    opposite sign share a magnitude.

    Returns:
        `(U, s, V)`: `U` and `V` have dimensions `(batch…, parameter, eigen)`, `s` has `(batch…, eigen)`.
    """
    u, s, vh = math.svd(hessian, feature_dim=dual(PARAMETER), list_dim=PARAMETER, latent_dim=channel(EIGEN))
    v = math.rename_dims(vh, dual(EIGEN) + dual(PARAMETER), channel(EIGEN) + channel(PARAMETER))
    return u, s, v


def to_eigenbasis(basis: Tensor, vector: Tensor) -> Tensor:
    """Components `Bᵀv` of a `(…, parameter)` vector along the columns of `basis`."""
    return math.dot(basis, PARAMETER, vector, PARAMETER)


def from_eigenbasis(basis: Tensor, components: Tensor) -> Tensor:
    """The `(…, parameter)` vector `Bc` with components `c` along the columns of `basis`."""
    return math.dot(basis, EIGEN, components, EIGEN)


def flatten(x: Tensor) -> Tensor:
    """`x` with all non-batch dimensions packed into one channel dimension `parameter` (of size 1 for scalars)."""
    if not x.shape.non_batch:
        return math.expand(x, channel(**{PARAMETER: 1}))
    return math.pack_dims(x, x.shape.non_batch, channel(PARAMETER))


def unflatten(flat: Tensor, like: Tensor) -> Tensor:
    """Inverse of `flatten()`: the `parameter` dimension unpacked into the non-batch dimensions of `like`."""
    if not like.shape.non_batch:
        return flat[{PARAMETER: 0}]
    return math.unpack_dim(flat, PARAMETER, like.shape.non_batch)


def require_low_dimensional(x, what: str) -> Backend:
    """The backend of `x` if `x` is a Tensor on a differentiating backend; otherwise an error naming the fix."""
    if isinstance(x, Field):
        raise TypeError(f"{what} need x as a Tensor with a few entries per example, but got a Field {x.shape}: a grid's "
                        f"Hessian or per-example SciPy solve is too large. For grids use updates.gauss_newton_krylov() (matrix-free), "
                        f"updates.normalized_gradient() or an operator's own inverse update (e.g. physics.poisson.laplace_update()).")
    return require_autodiff(x)


def require_autodiff(x) -> Backend:
    """The backend of `x`, or a `NotImplementedError` naming the fix if it cannot differentiate."""
    values = x.values if isinstance(x, Field) else x
    backend = values.default_backend
    if not backend.supports(Backend.jacobian):
        raise NotImplementedError(
            f"This inverse update differentiates the forward simulation, but x lives on {backend.name}, which has no automatic "
            f"differentiation. Create x on PyTorch, TensorFlow or JAX (import phi.torch.flow, phi.tf.flow or phi.jax.flow, "
            f"or phi_inverse.support.backends.select(...)), or convert it with math.convert(x).")
    return backend
