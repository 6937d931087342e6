"""Network updates (loss, gradient, Adam step) compiled just in time, with a settable learning rate, on every
ML backend.

`nn.update_weights` with a `math.jit_compile`d loss compiles the loss and its gradient on PyTorch
(`torch.jit.trace`) and TensorFlow (`tf.function`). On JAX, PhiML 1.16 compiles the whole update but closes
over the optimizer state of the first call, so every later step restarts from it and the network never learns
past one step; and `nn.set_learning_rate` exists only for PyTorch and (Keras 2) TensorFlow. This module fills
both gaps: `adam()` creates an Adam optimizer whose learning rate `set_learning_rate()` can change on every
backend, and `jit_update()` compiles loss, gradient and Adam step as one `jax.jit` function of the current
optimizer state and learning rate on JAX.
"""
import functools
from typing import Callable

import numpy as np
from phi import math
from phi.math import Tensor
from phiml import nn

from .checks import require_trainable_backend


def adam(net, learning_rate: float = 1e-3, betas=(.9, .999), epsilon: float = 1e-7):
    """An Adam optimizer for `net` whose learning rate `set_learning_rate()` can change on every backend."""
    if require_trainable_backend().name != 'jax':
        return nn.adam(net, learning_rate, betas, epsilon)
    from jax.example_libraries import optimizers
    from phiml.backend.jax.stax_nets import JaxOptimizer
    cell = {'value': learning_rate}
    optimizer = JaxOptimizer(*optimizers.adam(lambda step: cell['value'], betas[0], betas[1], epsilon))
    optimizer.initialize(net.parameters)
    optimizer.learning_rate_cell = cell
    return optimizer


def cosine_decay(start: float, end: float, steps: int) -> Callable[[int], float]:
    """The learning rate `end + (start − end)·½·(1 + cos(π·i/steps))` for training step `i` (then `end`)."""
    def learning_rate(i: int) -> float:
        return float(end + (start - end) * .5 * (1 + np.cos(np.pi * min(i, steps) / max(steps, 1))))
    return learning_rate


def set_learning_rate(optimizer, learning_rate: float):
    """Sets the learning rate of an optimizer from `adam()` (or any PyTorch / Keras 3 optimizer)."""
    if hasattr(optimizer, 'learning_rate_cell'):
        optimizer.learning_rate_cell['value'] = float(learning_rate)
    elif hasattr(optimizer, 'param_groups'):
        for group in optimizer.param_groups:
            group['lr'] = float(learning_rate)
    elif hasattr(getattr(optimizer, 'learning_rate', None), 'assign'):
        optimizer.learning_rate.assign(float(learning_rate))
    else:
        raise TypeError(f"Cannot set the learning rate of {type(optimizer).__name__}. Create it with phi_inverse.jit_update.adam().")


def jit_update(net, optimizer, loss_function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A compiled `update(*tensors) -> loss` that minimises `loss_function(*tensors)` by one optimizer step.

    Args:
        net: Network of the default backend (`phiml.nn`).
        optimizer: Its optimizer; on JAX one from `adam()`.
        loss_function: Function of `Tensor` arguments returning the scalar loss `Tensor` (or a tuple whose first
            entry is the loss). It is traced once per combination of argument shapes; it must not draw random
            numbers (pass them in as arguments), since a trace would freeze them.

    Returns:
        `update(*tensors)`, returning the loss before the step.
    """
    if require_trainable_backend().name == 'jax':
        return _jax_update(net, optimizer, loss_function)
    compiled_loss = math.jit_compile(loss_function)

    def update(*tensors: Tensor) -> Tensor:
        output = nn.update_weights(net, optimizer, compiled_loss, *tensors)
        return math.stop_gradient(output[0] if isinstance(output, tuple) else output)
    return update


def _jax_update(net, optimizer, loss_function):
    import jax
    from jax.example_libraries.optimizers import OptimizerState
    from jax.tree_util import tree_flatten
    if not hasattr(optimizer, 'learning_rate_cell'):
        raise TypeError("On JAX, jit_update() needs an optimizer from phi_inverse.jit_update.adam().")
    cell = optimizer.learning_rate_cell

    def loss_of_parameters(parameters, shapes, natives):
        net._tracers = parameters
        try:
            output = loss_function(*[math.wrap(n, s) for n, s in zip(natives, shapes)])
        finally:
            net._tracers = None
        loss = output[0] if isinstance(output, tuple) else output
        return math.sum(loss, loss.shape).native()

    @functools.partial(jax.jit, static_argnums=(3,))
    def step(packed_state, step_index, learning_rate, shapes, natives):
        state = OptimizerState(packed_state, optimizer._state.tree_def, optimizer._state.subtree_defs)
        loss, gradient = jax.value_and_grad(loss_of_parameters)(optimizer._get_params(state), shapes, natives)
        value, cell['value'] = cell['value'], learning_rate  # the Adam step reads the traced learning rate
        try:
            return optimizer._update(step_index, gradient, state).packed_state, loss
        finally:
            cell['value'] = value

    def update(*tensors: Tensor) -> Tensor:
        parameters, _ = tree_flatten(net.parameters)
        packed = [(p, *slots[1:]) for p, slots in zip(parameters, optimizer._state.packed_state)]
        shapes = tuple(t.shape for t in tensors)
        natives = tuple(t.native(t.shape) for t in tensors)
        packed, loss = step(packed, optimizer._step_i, cell['value'], shapes, natives)
        optimizer._state = OptimizerState(packed, optimizer._state.tree_def, optimizer._state.subtree_defs)
        optimizer._step_i += 1
        net.parameters = optimizer.get_network_parameters()
        return math.wrap(loss)
    return update
