"""Network optimizers that `phiml.nn` lacks, created from each ML library's own implementation.

`phiml.nn` offers Adam, SGD, Adagrad and RMSprop; the SIP paper's characterisation also compares Adadelta.
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
