"""JIT compilation of functions of grids, traced on the grids' value tensors.

`math.jit_compile` accepts Fields, but before every call it compares each Field argument's geometry with
every cached trace value by value. For a small physics step that comparison costs several times the step
itself. When the grid is fixed, as in a training scene, compiling on the values avoids it.
"""
import copy
from typing import Callable, Sequence, Tuple, Union

from phi import math
from phi.field import Field
from phi.geom import UniformGrid
from phiml.backend import Backend


def jit_on_grid(f: Callable[..., Field], grid: Field) -> Callable[..., Field]:
    """JIT-compiles `f`, a function of Fields sampled like `grid` that returns such a Field.

    Args:
        f: Function whose positional and keyword Field arguments all share the geometry and boundary of
            `grid`; keyword arguments passed as `None` are left out (so `f`'s default applies).
        grid: Template fixing the geometry and boundary. Its values are ignored; batch dimensions come
            from the arguments.

    Returns:
        A function with the signature of `f` that runs the compiled trace and returns a Field like `grid`.
        On NumPy, which cannot compile, and inside an enclosing JIT trace (which compiles `f` along with
        its caller), it runs `f` as is.
    """
    def on_values(values: tuple, keyword_values: dict):
        arguments = [grid.with_values(v) for v in values]
        keyword_arguments = {name: grid.with_values(v) for name, v in keyword_values.items()}
        return f(*arguments, **keyword_arguments).values

    compiled_values = math.jit_compile(on_values)

    def compiled(*fields: Field, **keyword_fields: Field) -> Field:
        values = [field.values for field in fields]
        keyword_values = {name: field.values for name, field in keyword_fields.items() if field is not None}
        if not values[0].available or not values[0].default_backend.supports(Backend.jit_compile):
            return grid.with_values(on_values(tuple(values), keyword_values))
        return grid.with_values(compiled_values(tuple(values), keyword_values))
    compiled.__name__ = getattr(f, '__name__', 'compiled')
    compiled.__doc__ = f.__doc__
    return compiled


def jit_on_fields(f: Callable[..., Union[Field, Tuple[Field, ...]]], inputs: Sequence[Field],
                  outputs: Union[Field, Sequence[Field]]) -> Callable[..., Union[Field, Tuple[Field, ...]]]:
    """JIT-compiles `f`, a function of several Fields on fixed grids, traced on their value tensors.

    Like `jit_on_grid()`, but each argument and each result has its own template, so centred and staggered
    grids of different resolutions can be mixed. Inside the trace every Field is rebuilt on a fresh copy of its
    template's geometry, so geometry properties that PhiFlow caches lazily (e.g. `UniformGrid.center`) are
    computed within the trace instead of leaking traced values into the shared template (a JAX error).

    Args:
        f: Function of positional Fields, sampled like `inputs`, returning one Field like `outputs` or a tuple of
            Fields like the entries of `outputs`. Batch dimensions of the values (including extra ones such as a
            time axis) pass through.
        inputs: One template per positional argument: geometry, sampling (centred/staggered) and boundary.
        outputs: Template of the result, or a sequence of templates for a tuple result.

    Returns:
        A function with the signature of `f` running the compiled trace. On NumPy it runs `f` as is.
    """
    single = isinstance(outputs, Field)
    outputs = (outputs,) if single else tuple(outputs)
    inputs = tuple(inputs)

    def on_values(values: tuple):
        result = f(*[_fresh(template, v) for template, v in zip(inputs, values)])
        result = (result,) if single else tuple(result)
        return tuple(field.values for field in result)

    compiled_values = math.jit_compile(on_values)

    def compiled(*fields: Field):
        if len(fields) != len(inputs):
            raise TypeError(f"{getattr(f, '__name__', 'f')} was compiled for {len(inputs)} Field arguments but got {len(fields)}.")
        values = [field.values for field in fields]
        run = compiled_values if values[0].default_backend.supports(Backend.jit_compile) else on_values
        result = tuple(_with_traced_values(template, v) for template, v in zip(outputs, run(tuple(values))))
        return result[0] if single else result
    compiled.__name__ = getattr(f, '__name__', 'compiled')
    compiled.__doc__ = f.__doc__
    return compiled


def _fresh(template: Field, values: math.Tensor) -> Field:
    geometry = template.geometry
    if isinstance(geometry, UniformGrid):
        geometry = UniformGrid(geometry.resolution, geometry.bounds)
    return Field(geometry, values, template.boundary)


def _with_traced_values(template: Field, values: math.Tensor) -> Field:
    """`template.with_values(values)` without PhiFlow's shape check, for values traced from Fields like `template`.

    The check slices the grid's faces on every call, about 10 ms per staggered grid, more than a compiled step
    on a small grid; the trace already built these values as Fields of this template.
    """
    result = copy.copy(template)
    object.__setattr__(result, 'values', values)
    return result
