"""JIT compilation of functions of grids, traced on the grids' value tensors, and of functions that call networks.

`math.jit_compile` accepts Fields, but before every call it compares each Field argument's geometry with
every cached trace value by value. For a small physics step that comparison costs several times the step
itself. When the grid is fixed, as in a training scene, compiling on the values avoids it.

A function that calls a network must be compiled with `jit_with_networks()`: on JAX, `math.jit_compile` would
bake the parameters of the first call into the trace.
"""
import copy
import sys
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


def jit_with_networks(f: Callable, *networks) -> Callable:
    """JIT-compiles `f`, a function of Tensors (or Fields) that calls `networks`, so that every call sees their current parameters.

    PyTorch modules and Keras models hold their parameters in mutable variables that their traces reference and
    optimizers update in place, so there `math.jit_compile(f)` is right. A JAX (stax) network holds immutable arrays
    in `net.parameters`, which `nn.update_weights` replaces after every step, and a trace of `f` would keep the
    arrays of its first call as constants. Here, on JAX, the parameters are an argument of the trace: inside it the
    networks apply the traced parameters (`net._tracers`, as PhiML's own JAX training update does). The trace is
    made once per argument shape, as with `math.jit_compile`; new parameter values do not trigger a new trace.

    Args:
        f: Function to compile, with the arguments `math.jit_compile` accepts.
        *networks: Every network `f` calls.

    Returns:
        A function with the signature of `f` running the compiled trace.
    """
    stax_networks = [net for net in networks if _is_stax_network(net)]
    if not stax_networks:
        return math.jit_compile(f)

    def with_parameters(parameters: tuple, arguments: tuple, keyword_arguments: dict):
        previous = [net._tracers for net in stax_networks]
        for net, traced in zip(stax_networks, parameters):
            net._tracers = traced
        try:
            return f(*arguments, **keyword_arguments)
        finally:
            for net, tracers in zip(stax_networks, previous):
                net._tracers = tracers
    with_parameters.__name__ = getattr(f, '__name__', 'compiled')
    compiled_with_parameters = math.jit_compile(with_parameters)

    def compiled(*arguments, **keyword_arguments):
        parameters = tuple(net.parameters if net._tracers is None else net._tracers for net in stax_networks)
        return compiled_with_parameters(parameters, arguments, keyword_arguments)
    compiled.__name__ = getattr(f, '__name__', 'compiled')
    compiled.__doc__ = f.__doc__
    return compiled


def _is_stax_network(net) -> bool:
    if 'phiml.backend.jax.stax_nets' not in sys.modules:
        return False
    from phiml.backend.jax.stax_nets import StaxNet
    return isinstance(net, StaxNet)
