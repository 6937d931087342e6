"""Compiled network updates whose Adam learning rate follows a schedule, on every ML backend.

`nn.update_weights` with a `math.jit_compile`d loss compiles the loss and its gradient on PyTorch and
TensorFlow and the whole update on JAX (correct once `phi_inverse.support.compat` has fixed its step counter and state).
What PhiML 1.16 lacks is a learning rate that changes during training on every backend: `nn.set_learning_rate`
does not exist for JAX, and a compiled JAX update would freeze a learning rate read from Python at trace time.
Here the learning rate is a schedule `lr(step)`. On JAX it is built into the optimizer, which evaluates it on the
traced step counter; on PyTorch and TensorFlow `jit_update()` sets it before every step.
"""
from typing import Callable, Union

from phi import math
from phi.math import Tensor
from phiml import nn
from phiml.backend import choose_backend

from .checks import require_trainable_backend

Schedule = Callable[[object], object]


def cosine_decay(start: float, end: float, steps: int) -> Schedule:
    """The learning rate `end + (start − end)·½·(1 + cos(π·min(i, steps)/steps))` of training step `i`.

    `i` may be a Python number or a native scalar of any backend (a JAX tracer inside a compiled update).
    """
    def learning_rate(i):
        backend = choose_backend(i)
        progress = backend.minimum(backend.to_float(i), float(steps)) / max(steps, 1)
        return end + (start - end) * .5 * (1 + backend.cos(3.141592653589793 * progress))
    return learning_rate


def adam(net, learning_rate: Union[float, Schedule] = 1e-3, betas=(.9, .999), epsilon: float = 1e-7):
    """An Adam optimizer for `net` whose learning rate is a number or a schedule `learning_rate(step)`.

    Train with `jit_update()`, which applies the schedule on every backend.
    """
    schedule = learning_rate if callable(learning_rate) else _constant(learning_rate)
    if require_trainable_backend().name == 'jax':
        from jax.example_libraries import optimizers
        from phiml.backend.jax.stax_nets import JaxOptimizer
        optimizer = JaxOptimizer(*optimizers.adam(schedule, betas[0], betas[1], epsilon))
        optimizer.initialize(net.parameters)
    else:
        optimizer = nn.adam(net, float(schedule(0)), betas, epsilon)
    optimizer.learning_rate_schedule = schedule
    return optimizer


def jit_update(net, optimizer, loss_function: Callable[..., Tensor], jit: bool = True) -> Callable[..., Tensor]:
    """A compiled `update(*tensors) -> loss` that minimises `loss_function(*tensors)` by one optimizer step.

    Args:
        net: Network of the default backend (`phiml.nn`).
        optimizer: Its optimizer; from `adam()` for a learning-rate schedule, else any PhiML optimizer.
        loss_function: Function of `Tensor` arguments returning the scalar loss `Tensor` (or a tuple whose first
            entry is the loss). It is traced once per combination of argument shapes; it must not draw random
            numbers (pass them in as arguments), since a trace would freeze them.
        jit: `False` runs the same update eagerly (for comparisons and debugging).

    Returns:
        `update(*tensors)`, returning the loss before the step.
    """
    compiled_loss = math.jit_compile(loss_function) if jit else loss_function
    schedule = getattr(optimizer, 'learning_rate_schedule', None)
    scheduled_here = schedule is not None and require_trainable_backend().name != 'jax'
    steps_done = [0]

    def update(*tensors: Tensor) -> Tensor:
        if scheduled_here:
            set_learning_rate(optimizer, float(schedule(steps_done[0])))
        output = nn.update_weights(net, optimizer, compiled_loss, *tensors)
        steps_done[0] += 1
        return math.stop_gradient(output[0] if isinstance(output, tuple) else output)
    return update


def set_learning_rate(optimizer, learning_rate: float):
    """Sets the learning rate of a PyTorch or TensorFlow (Keras 3) optimizer."""
    if hasattr(optimizer, 'param_groups'):
        for group in optimizer.param_groups:
            group['lr'] = learning_rate
    elif hasattr(getattr(optimizer, 'learning_rate', None), 'assign'):
        optimizer.learning_rate.assign(learning_rate)
    else:
        raise TypeError(f"Cannot set the learning rate of {type(optimizer).__name__}; on JAX pass a schedule to "
                        f"phi_inverse.support.jit_update.adam() instead.")


def _constant(value: float) -> Schedule:
    def learning_rate(i):
        return value
    return learning_rate
