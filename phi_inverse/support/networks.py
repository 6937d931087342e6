"""PhiML networks with activations PhiML 1.16 names only on some backends (ELU, leaky ReLU), and a zero output layer.

`phiml.nn` builds its networks from an activation given by name, but its name tables differ per backend
(`'SiLU'` is SELU on TensorFlow and JAX) and lack ELU; its JAX MLP accepts names only. `activation()` returns
the activation object each backend's builders expect, and `mlp()` builds an MLP with it on every backend.
`zero_output()` makes a freshly built network start as the zero function.
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


def zero_output(net):
    """Sets the weights and bias of `net`'s output layer to zero, so that the network starts as the zero function.

    A correction added to an unstable reverse simulator then starts as the simulator alone instead of a random
    perturbation that the simulator amplifies; the gradients of the output layer are non-zero, so training moves
    away from zero at once (as with the zero-initialised last layers of score networks). The output layer is the
    last module with weights (PyTorch), the last layer with weights (TensorFlow) or the last parameter group,
    `'outc'` of PhiML's U-net (JAX).

    Returns:
        `net`, modified in place.
    """
    backend = require_trainable_backend().name
    if backend == 'torch':
        import torch
        layer = [module for module in net.modules() if getattr(module, 'weight', None) is not None][-1]
        with torch.no_grad():
            for parameter in (layer.weight, layer.bias):
                if parameter is not None:
                    parameter.zero_()
    elif backend == 'jax':
        import jax
        params = net.parameters
        key = 'outc' if isinstance(params, dict) and 'outc' in params else (list(params)[-1] if isinstance(params, dict) else -1)
        params[key] = jax.tree_util.tree_map(lambda p: p * 0, params[key])
    elif backend == 'tensorflow':
        layer = [layer for layer in net.layers if layer.weights][-1]
        for weight in layer.weights:
            weight.assign(weight * 0)
    else:
        raise NotImplementedError(f"zero_output() supports PyTorch, JAX and TensorFlow, not {backend}.")
    return net
