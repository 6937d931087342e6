"""JIT compilation of functions of grids, traced on the grids' value tensors.

`math.jit_compile` accepts Fields, but before every call it compares each Field argument's geometry with
every cached trace value by value. For a small physics step that comparison costs several times the step
itself. When the grid is fixed, as in a training scene, compiling on the values avoids it.
"""
from typing import Callable

from phi import math
from phi.field import Field
from phiml.backend import Backend

from . import compat


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
    compat.apply()

    def compiled(*fields: Field, **keyword_fields: Field) -> Field:
        values = [field.values for field in fields]
        keyword_values = {name: field.values for name, field in keyword_fields.items() if field is not None}
        if not values[0].available or not values[0].default_backend.supports(Backend.jit_compile):
            return grid.with_values(on_values(tuple(values), keyword_values))
        return grid.with_values(compiled_values(tuple(values), keyword_values))
    compiled.__name__ = getattr(f, '__name__', 'compiled')
    compiled.__doc__ = f.__doc__
    return compiled
