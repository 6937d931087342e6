import numpy as np
from phi import math
from phi.math import batch, channel
from phiml import nn

from phi_inverse.support.optimizers import adadelta
from phi_inverse.experiments.methods import Method


def adadelta_steps(gradients, learning_rate, rho=.9, eps=1e-6):
    """Parameter changes of Adadelta (Zeiler 2012) for a sequence of gradients, computed by hand."""
    mean_square_gradient = mean_square_step = 0.
    changes = []
    for g in gradients:
        mean_square_gradient = rho * mean_square_gradient + (1 - rho) * g ** 2
        step = np.sqrt(mean_square_step + eps) / np.sqrt(mean_square_gradient + eps) * g
        mean_square_step = rho * mean_square_step + (1 - rho) * step ** 2
        changes.append(-learning_rate * step)
    return changes


def parameters(net) -> np.ndarray:
    return np.concatenate([np.ravel(p.numpy(p.shape)) for p in nn.get_parameters(net).values()])


def test_adadelta_follows_the_update_rule_on_every_backend(ml_backend):
    """A linear layer with loss `Σ out` at input 1 has gradient 1 for each parameter: two steps of the rule."""
    math.seed(0)
    net = nn.mlp(1, 1, [])
    optimizer = Method('physics', 'adadelta', 2.).make_optimizer(net)
    x = math.ones(batch(b=1), channel(vector=1))
    before = parameters(net)
    for expected in np.cumsum(adadelta_steps([1., 1.], 2.)):
        nn.update_weights(net, optimizer, lambda: math.sum(math.native_call(net, x)))
        np.testing.assert_allclose(parameters(net) - before, expected, rtol=1e-3)


def test_adadelta_is_a_native_optimizer_of_the_backend(torch_backend):
    import torch
    assert isinstance(adadelta(nn.mlp(1, 1, [])), torch.optim.Adadelta)
