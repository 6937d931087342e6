"""Input validation with errors that say what is wrong and how to fix it."""
from typing import Optional, Union

from phi import math
from phi.field import Field
from phi.math import Tensor, extrapolation
from phiml.backend import Backend, default_backend

TRAINING_BACKENDS = ('torch', 'tensorflow', 'jax')


def check_centered_grid(value, name: str):
    """Raises a `TypeError` unless `value` is a centred grid `Field`."""
    if not isinstance(value, Field) or not value.is_grid or not value.is_centered:
        raise TypeError(f"{name} must be a centred grid (phi.field.CenteredGrid) but got {_describe(value)}.")


def check_periodic_grid(value, name: str, centred: bool = True, vector: Optional[bool] = None, alternative: str = ''):
    """Raises unless `value` is a grid that is periodic along every dimension.

    Args:
        value: The argument to check.
        name: Its name in the error message.
        centred: Whether a centred (`True`) or a staggered (`False`) grid is expected.
        vector: Whether a vector (`True`) or a scalar (`False`) grid is expected; `None` accepts both.
        alternative: Appended to the message of a non-periodic grid, e.g. the operator to use for other boundaries.

    Raises:
        TypeError: If `value` is not a grid of the expected kind.
        ValueError: If it is, but not periodic along every dimension.
    """
    grid_type = 'CenteredGrid' if centred else 'StaggeredGrid'
    kind = f"{'centred' if centred else 'staggered'} {'' if vector is None else 'vector ' if vector else 'scalar '}grid"
    constructor = f"{grid_type}(values, extrapolation.PERIODIC, bounds, x=…, y=…)"
    is_grid = isinstance(value, Field) and value.is_grid and value.is_centered == centred
    if not is_grid or (vector is not None and ('vector' in value.shape) != vector):
        raise TypeError(f"{name} must be a periodic {kind} ({grid_type}) but got {_describe(value)}. Create it with {constructor}.")
    if value.extrapolation != extrapolation.PERIODIC:
        raise ValueError(f"{name} must be periodic along every dimension but has extrapolation {value.extrapolation}. Create it with "
                         f"{constructor} (or {name}.with_extrapolation(extrapolation.PERIODIC)).{' ' + alternative if alternative else ''}")


def check_like(actual: Union[Field, Tensor], expected: Union[Field, Tensor], actual_name: str, expected_name: str):
    """Raises a `ValueError` if `actual` and `expected` cannot be compared cell by cell.

    Fields must agree in sampling (centred/staggered), resolution, bounds, boundary and channels;
    tensors in their non-batch shape. Batch dimensions that both have must have equal sizes.
    """
    if isinstance(actual, Field) != isinstance(expected, Field):
        raise TypeError(f"{actual_name} is {_describe(actual)} but {expected_name} is {_describe(expected)}. "
                        f"Pass both as Fields or both as Tensors.")
    if isinstance(actual, Field):
        _check_fields_alike(actual, expected, actual_name, expected_name)
    else:
        _check_shapes_alike(math.shape(actual), math.shape(expected), actual_name, expected_name)


def _check_fields_alike(a: Field, b: Field, a_name: str, b_name: str):
    if (a.is_grid, a.is_centered, a.is_staggered) != (b.is_grid, b.is_centered, b.is_staggered):
        raise TypeError(f"{a_name} is {_describe(a)} but {b_name} is {_describe(b)}. Sample both on the same kind of grid.")
    _check_shapes_alike(a.values.shape, b.values.shape, a_name, b_name)
    if a.extrapolation != b.extrapolation:
        raise ValueError(f"{a_name} has boundary {a.extrapolation} but {b_name} has boundary {b.extrapolation}. "
                         f"Create both with the same extrapolation, e.g. {b_name}.with_extrapolation({a.extrapolation!r}).")
    if a.is_grid and not (math.close(a.bounds.lower, b.bounds.lower) and math.close(a.bounds.upper, b.bounds.upper)):
        raise ValueError(f"{a_name} covers {a.bounds} but {b_name} covers {b.bounds}. Use the same domain bounds for both.")


def _check_shapes_alike(a: math.Shape, b: math.Shape, a_name: str, b_name: str):
    if a.non_batch != b.non_batch:
        raise ValueError(f"{a_name} has shape {a.non_batch} but {b_name} has shape {b.non_batch}. "
                         f"Resample one onto the other's grid (e.g. resample(x, to=y)) or fix the network's output size.")
    for dim in a.batch.only(b.batch).names:
        if a.get_size(dim) != b.get_size(dim):
            raise ValueError(f"{a_name} has {a.get_size(dim)} examples along '{dim}' but {b_name} has {b.get_size(dim)}. "
                             f"Pass matching batches.")


def check_finite(value: Union[Field, Tensor], name: str):
    """Raises a `ValueError` if `value` holds NaN or ±inf. Skipped while tracing (JIT), where values are unknown."""
    values = value.values if isinstance(value, Field) else value
    if not isinstance(values, Tensor) or not values.available:
        return
    if math.is_finite(values).all:
        return
    bad = int(math.sum(~math.is_finite(values), dim=values.shape))
    raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf). Check the data generator or simulation that "
                         f"produced it; training on it would only propagate NaN into the network.")


def require_trainable_backend(backend: Backend = None) -> Backend:
    """Returns the default backend if it can train networks; raises a `NotImplementedError` naming the fix otherwise."""
    backend = backend or default_backend()
    if backend.name not in TRAINING_BACKENDS:
        raise NotImplementedError(
            f"Training needs an ML backend but the default backend is {backend.name}. The physics operators run on NumPy, "
            f"but networks train on PyTorch, TensorFlow or JAX: import phi.torch.flow, phi.tf.flow or phi.jax.flow, "
            f"or select one with phi_inverse.support.backends.select('torch' | 'tensorflow' | 'jax').")
    return backend


def _describe(value) -> str:
    if isinstance(value, Field):
        kind = 'a staggered grid' if value.is_staggered else 'a centred grid' if value.is_grid else 'a non-grid Field'
        return f"{kind} {value.shape}"
    if isinstance(value, Tensor):
        return f"a Tensor {value.shape}"
    return f"{type(value).__name__}"
