"""Jacobian–vector products `Jv` and vector–Jacobian products `Jᵀw` of a PhiML function at a fixed point.

PhiML 1.16 differentiates scalar losses (`math.gradient`) and forms dense Jacobians, but has no products with the
Jacobian, and on PyTorch its gradients can neither be nested nor traced. `linearize(f, x)` runs `f` once under the
backend's own autodiff and returns `Jv` and `Jᵀw` as functions that reuse that single forward pass:

* JAX: forward mode, `jax.linearize`, and its transpose `jax.linear_transpose` for `Jᵀw`;
* PyTorch: `Jᵀw` by backpropagation through the recorded graph; `Jv` by differentiating that backward pass
  once more (the double-vjp trick: `w ↦ Jᵀw` is linear, and its vjp with cotangent `v` is `Jv`), since
  `grid_sample`, used by PhiFlow's interpolation, has no forward-mode derivative. `f` may be a compiled function;
* TensorFlow: the same two products from persistent `GradientTape`s, the outer one recording `Jᵀw`.

`x` and `f(x)` may be Tensors or Fields (centred or staggered) with any dimensions.

PyTorch's tracer cannot record `torch.autograd.grad`, so inside PhiML's PyTorch JIT a function that linearises
must run as one opaque operation, `traceable()`; JAX and TensorFlow trace it like any other code.
"""
import copy
import weakref
from typing import Callable, List, NamedTuple, Sequence, Tuple

from phi import math
from phi.field import Field
from phi.math import Tensor
from phiml.backend import Backend

Value = object  # a Field or a Tensor


class Linearization(NamedTuple):
    """`f` at a point `x`, on value tensors: `y`, the values of `f(x)`, `jvp(v) = J v` for `v` with the shape of the
    values of `x`, and `vjp(w) = Jᵀw` for `w` with the shape of `y`. The values of a Field are its `values`."""
    y: Tensor
    jvp: Callable[[Tensor], Tensor]
    vjp: Callable[[Tensor], Tensor]


def linearize(f: Callable[[Value], Value], x: Value) -> Linearization:
    """Evaluates `f(x)` once and returns its values with matrix-free products with the Jacobian `J = ∂f/∂x` at `x`.

    Args:
        f: Function of a Field or Tensor like `x`, returning a Field or Tensor; differentiable on the backend of `x`.
        x: Point of the linearisation.

    Returns:
        A `Linearization` on the value tensors of `x` and `f(x)`; values constant along some dimensions are expanded.
    """
    x_layout = Layout.of(x)
    backend = x_layout.backend
    if not backend.supports(Backend.jacobian):
        raise NotImplementedError(f"linearize() needs automatic differentiation, but x lives on {backend.name}. "
                                  f"Create x on PyTorch, TensorFlow or JAX, or convert it with math.convert(x).")
    y_layout = []

    def native_f(*natives):
        y = f(x_layout.assemble(natives))
        if not y_layout:
            y_layout.append(Layout.of(y))
        return tuple(y_layout[0].natives(y))

    y_natives, jvp, vjp = _LINEARIZE[backend.name](native_f, tuple(x_layout.natives(x)))
    y_out = y_layout[0]
    return Linearization(y_out.assemble_values(y_natives),
                         lambda v: y_out.assemble_values(jvp(tuple(x_layout.natives(v)))),
                         lambda w: x_layout.assemble_values(vjp(tuple(y_out.natives(w)))))


class Layout:
    """How a Field or Tensor maps to a tuple of native arrays: one per uniform component, fully expanded."""

    def __init__(self, like: Value, parts: List[Tensor], stack_dims):
        self.like = like
        self.shapes = [part.shape for part in parts]
        self.stack_dims = stack_dims
        self.backend = parts[0].default_backend

    @staticmethod
    def of(value: Value) -> 'Layout':
        values = value.values if isinstance(value, Field) else value
        if not isinstance(values, Tensor):
            raise TypeError(f"linearize() handles Fields and Tensors, but got {type(value).__name__}.")
        stack_dims = values.shape.non_uniform_shape
        return Layout(value, _unstack(values, stack_dims), stack_dims)

    def natives(self, value: Value) -> List:
        values = value.values if isinstance(value, Field) else value
        return [math.expand(part, shape).native(shape.names) for part, shape in zip(_unstack(values, self.stack_dims), self.shapes)]

    def assemble_values(self, natives) -> Tensor:
        parts = [math.wrap(native, shape) for native, shape in zip(natives, self.shapes)]
        return math.stack(parts, self.stack_dims) if self.stack_dims else parts[0]

    def assemble(self, natives) -> Value:
        return with_values(self.like, self.assemble_values(natives))


def with_values(like: Value, values: Tensor) -> Value:
    """`like` with its values replaced: a Field like `like` (without re-checking its geometry), or `values` itself."""
    if not isinstance(like, Field):
        return values
    result = copy.copy(like)
    object.__setattr__(result, 'values', values)
    return result


def _unstack(values: Tensor, dims) -> List[Tensor]:
    if not dims:
        return [values]
    return [values[index] for index in dims.meshgrid()]


def _jax(f, x: tuple) -> Tuple[tuple, Callable, Callable]:
    import jax
    y, jvp = jax.linearize(f, *x)
    transpose = jax.linear_transpose(jvp, *x)
    return y, lambda v: jvp(*v), lambda w: transpose(w)


def _torch(f, x: tuple) -> Tuple[tuple, Callable, Callable]:
    import torch
    x = tuple(t.detach().requires_grad_(True) for t in x)
    with torch.enable_grad():
        y = f(*x)
        zeros = tuple(torch.zeros_like(t, requires_grad=True) for t in y)
        transposed = torch.autograd.grad(y, x, zeros, create_graph=True)  # Jᵀw at w = 0, differentiable in w

    def jvp(v):
        return torch.autograd.grad(transposed, zeros, v, retain_graph=True)

    def vjp(w):
        return torch.autograd.grad(y, x, w, retain_graph=True)
    return tuple(t.detach() for t in y), jvp, vjp


def _tensorflow(f, x: tuple) -> Tuple[tuple, Callable, Callable]:
    import tensorflow as tf
    with tf.GradientTape(persistent=True) as inner:
        inner.watch(x)
        y = f(*x)
    zeros = tuple(tf.zeros_like(t) for t in y)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(zeros)
        transposed = inner.gradient(y, x, output_gradients=zeros)
    jvp = lambda v: tuple(outer.gradient(transposed, zeros, output_gradients=v))
    vjp = lambda w: tuple(inner.gradient(y, x, output_gradients=list(w)))
    return tuple(tf.stop_gradient(t) for t in y), jvp, vjp


_LINEARIZE = {'jax': _jax, 'torch': _torch, 'tensorflow': _tensorflow}


def traceable(f: Callable[..., Tuple[Value, ...]]) -> Callable[..., Tuple[Value, ...]]:
    """`f`, a function of Fields/Tensors returning a tuple of them, made callable inside PhiML's PyTorch JIT.

    Inside a PyTorch trace, `f` runs as a `torch.autograd.Function` without gradient, which the trace records as a
    Python operation that calls `f` eagerly on every run of the compiled function (its own PhiML JIT functions
    compile separately). On JAX and TensorFlow, and outside a trace, `f` is called as is.
    """
    return _EagerInTorchTrace(f)


_REPLAY = weakref.WeakKeyDictionary()  # PhiML's PyTorch JIT function -> outputs of its recording pass, in call order


class _EagerInTorchTrace:
    """PhiML traces a PyTorch function in two passes: it records (eagerly), then `torch.jit.trace`s. `f` runs in the
    recording pass; the tracing pass replays its outputs, so the trace holds one opaque call of `f`. The two passes
    may run different instances (e.g. an update built inside the traced function), so the replay queue belongs
    to the trace."""

    def __init__(self, f: Callable):
        self.f = f
        self.out_layouts: List[Layout] = []
        self.replayed_layouts: List[Layout] = []

    def __call__(self, *args):
        jit_calls = _torch_jit_calls(args[0])
        if not jit_calls:
            return self.f(*args)
        import torch
        in_layouts = [Layout.of(a) for a in args]
        natives = [n for layout, a in zip(in_layouts, args) for n in layout.natives(a)]
        replay = _REPLAY.setdefault(jit_calls[-1], [])
        outputs = self._function(in_layouts, jit_calls, replay).apply(*natives)
        if torch._C._get_tracing_state() is None:
            replay.append((tuple(o.detach() for o in outputs), self.out_layouts))
        else:
            self.out_layouts = self.replayed_layouts
        return tuple(_assemble_all(self.out_layouts, outputs))

    def _run(self, in_layouts: List['Layout'], natives: Sequence) -> tuple:
        outputs = self.f(*_assemble_all(in_layouts, natives))
        self.out_layouts = [Layout.of(o) for o in outputs]
        return tuple(n.detach() for layout, o in zip(self.out_layouts, outputs) for n in layout.natives(o))

    def _function(self, in_layouts: List['Layout'], jit_calls: list, replay: list):
        import torch
        owner = self

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *natives):
                if torch._C._get_tracing_state() is not None:
                    outputs, owner.replayed_layouts = replay.pop(0)
                    return tuple(n.clone() for n in outputs)
                enclosing = jit_calls[:]
                jit_calls.clear()  # f's own custom-gradient calls are not calls of the enclosing trace
                try:
                    with torch.enable_grad():
                        return owner._run(in_layouts, natives)
                finally:
                    jit_calls.extend(enclosing)

            @staticmethod
            def backward(ctx, *gradients):
                return (None,) * sum(len(layout.shapes) for layout in in_layouts)
        return Eager


def _assemble_all(layouts: List[Layout], natives: Sequence) -> list:
    values, start = [], 0
    for layout in layouts:
        values.append(layout.assemble(natives[start:start + len(layout.shapes)]))
        start += len(layout.shapes)
    return values


def _torch_jit_calls(value) -> list:
    """PhiML's list of active PyTorch JIT traces if `value` is a PyTorch value inside one, else an empty list."""
    if Layout.of(value).backend.name != 'torch':
        return []
    from phiml.backend.torch._torch_backend import CURRENT_JIT_CALLS
    return CURRENT_JIT_CALLS
