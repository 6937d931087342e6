"""PhiML networks with activations PhiML 1.16 names only on some backends (ELU, leaky ReLU).

`phiml.nn` builds its networks from an activation given by name, but its name tables differ per backend
(`'SiLU'` is SELU on TensorFlow and JAX) and lack ELU; its JAX MLP accepts names only. `activation()` returns
the activation object each backend's builders expect, and `mlp()` builds an MLP with it on every backend.
"""
from typing import Sequence

from phiml import nn
from phiml.backend import default_backend

from .checks import require_trainable_backend

ACTIVATIONS = ('ELU', 'LeakyReLU', 'ReLU', 'tanh')


def activation(name: str):
    """The default backend's activation for `name` (one of `ACTIVATIONS`), as `phiml.nn` builders take it."""
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation '{name}'. Choose one of {ACTIVATIONS}.")
    backend = require_trainable_backend().name
    if backend == 'torch':
        import torch
        return {'ELU': torch.nn.ELU, 'LeakyReLU': torch.nn.LeakyReLU, 'ReLU': torch.nn.ReLU, 'tanh': torch.nn.Tanh}[name]
    if backend == 'tensorflow':
        import keras
        return {'ELU': keras.activations.elu, 'LeakyReLU': keras.activations.leaky_relu, 'ReLU': keras.activations.relu,
                'tanh': keras.activations.tanh}[name]
    from jax.example_libraries import stax
    return {'ELU': stax.Elu, 'LeakyReLU': stax.LeakyRelu, 'ReLU': stax.Relu, 'tanh': stax.Tanh}[name]


def mlp(in_channels: int, out_channels: int, layers: Sequence[int], activation_name: str = 'ELU'):
    """A fully connected network `in → layers → out` with `activation_name` after every hidden layer."""
    native = activation(activation_name)
    if default_backend().name != 'jax':
        return nn.mlp(in_channels, out_channels, layers, activation=native)
    from jax.example_libraries import stax
    from phiml.backend.jax.stax_nets import StaxNet
    hidden = [layer for size in layers for layer in (stax.Dense(size), native)]
    net = StaxNet(*stax.serial(*hidden, stax.Dense(out_channels)), (-1, in_channels))
    net.initialize()
    return net
