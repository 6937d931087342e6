"""Network optimizers that `phiml.nn` lacks, created from each ML library's own implementation.

`phiml.nn` offers Adam, SGD, Adagrad and RMSprop; the SIP paper's characterisation also compares Adadelta.
`phiml.nn.update_weights` has no gradient clipping; `clip_gradient_norm` adds it to any of these optimizers.
The returned objects work with `phiml.nn.update_weights` and `phi_inverse.support.checkpoint` like PhiML's own.
"""
from phiml.backend import default_backend

from .checks import require_trainable_backend


def adadelta(net, learning_rate: float = 1., rho: float = .9, eps: float = 1e-6):
    """Adadelta (Zeiler 2012) with PyTorch's defaults on every backend:

    `E[g²] ← ρE[g²] + (1−ρ)g²`, `Δ = √(E[Δ²] + ε) / √(E[g²] + ε) · g`, `E[Δ²] ← ρE[Δ²] + (1−ρ)Δ²`, `θ ← θ − lr·Δ`.

    Args:
        net: Network of the default ML backend.
        learning_rate: Scale of the update (PyTorch's `lr`).
        rho: Decay of the running averages.
        eps: Added inside the square roots.
    """
    backend = require_trainable_backend(default_backend()).name
    return {'torch': _torch_adadelta, 'tensorflow': _keras_adadelta, 'jax': _jax_adadelta}[backend](net, learning_rate, rho, eps)


def _torch_adadelta(net, learning_rate, rho, eps):
    import torch
    return torch.optim.Adadelta(net.parameters(), lr=learning_rate, rho=rho, eps=eps)


def _keras_adadelta(net, learning_rate, rho, eps):
    import keras
    return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=rho, epsilon=eps)


def _jax_adadelta(net, learning_rate, rho, eps):
    import jax.numpy as jnp
    from jax.example_libraries import optimizers
    from phiml.backend.jax.stax_nets import JaxOptimizer

    @optimizers.optimizer
    def adadelta_triple(step_size):
        step_size = optimizers.make_schedule(step_size)

        def init(parameters):
            return parameters, jnp.zeros_like(parameters), jnp.zeros_like(parameters)

        def update(i, g, state):
            parameters, mean_square_gradient, mean_square_step = state
            mean_square_gradient = rho * mean_square_gradient + (1 - rho) * g ** 2
            step = jnp.sqrt(mean_square_step + eps) / jnp.sqrt(mean_square_gradient + eps) * g
            mean_square_step = rho * mean_square_step + (1 - rho) * step ** 2
            return parameters - step_size(i) * step, mean_square_gradient, mean_square_step
        return init, update, lambda state: state[0]

    optimizer = JaxOptimizer(*adadelta_triple(learning_rate))
    optimizer.initialize(net.parameters)
    return optimizer


def clip_gradient_norm(optimizer, max_norm: float):
    """Makes `optimizer` clip the gradient of all its parameters together before every step (in place):

    `g ← g · min(1, max_norm / ‖g‖₂)`, the norm taken over all parameters at once (Pascanu, Mikolov & Bengio 2013).
    The SMDP authors' stochastic heat code (tum-pbs/SMDP, `heat-diffusion/`) clips at `max_norm = 10`.

    Args:
        optimizer: A PyTorch, Keras or PhiML-JAX optimizer, as `phiml.nn` and this module create them.
        max_norm: Largest gradient norm a step uses; positive.

    Returns:
        `optimizer`.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive but got {max_norm}.")
    if hasattr(optimizer, 'register_step_pre_hook'):
        _clip_torch(optimizer, max_norm)
    elif hasattr(optimizer, 'global_clipnorm'):
        optimizer.global_clipnorm = max_norm
    elif hasattr(optimizer, '_update') and hasattr(optimizer, '_update_function_cache'):
        _clip_jax(optimizer, max_norm)
    else:
        raise TypeError(f"Cannot clip the gradients of {type(optimizer).__name__}; expected a PyTorch, Keras or PhiML-JAX optimizer.")
    return optimizer


def _clip_torch(optimizer, max_norm):
    import torch

    def clip(optimizer, args, kwargs):
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group['params']], max_norm)
    optimizer.register_step_pre_hook(clip)


def _clip_jax(optimizer, max_norm):
    from jax.example_libraries.optimizers import clip_grads
    update = optimizer._update

    def clipped_update(step, gradient, state):
        return update(step, clip_grads(gradient, max_norm), state)
    optimizer._update = clipped_update
    optimizer._update_function_cache.clear()
