import numpy as np
import pytest
from phi import math
from phi.math import batch, channel
from phiml import nn

from phi_inverse.support.jit_update import jit_update
from phi_inverse.support.optimizers import adadelta, clip_gradient_norm
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


def clipped_sgd_change(max_norm, jit=False) -> np.ndarray:
    """One SGD step (lr 1) of a linear layer `w·3 + b` under loss `10·out`: gradient (30, 10), norm √1000."""
    math.seed(0)
    net = nn.mlp(1, 1, [])
    optimizer = Method('physics', 'sgd', 1., gradient_clip=max_norm).make_optimizer(net)
    x = math.tensor([[3.]], batch('b'), channel('vector'))
    update = jit_update(net, optimizer, lambda x: 10 * math.sum(math.native_call(net, x)), jit=jit)
    before = parameters(net)
    update(x)
    return parameters(net) - before


@pytest.mark.parametrize('jit', [False, True])
def test_gradient_clip_scales_the_whole_gradient_to_the_norm_on_every_backend(ml_backend, jit):
    """Clipping each parameter on its own would give (−10, −10); no clipping (−30, −10)."""
    np.testing.assert_allclose(sorted(clipped_sgd_change(10., jit)), sorted([-30 / 1000 ** .5 * 10, -10 / 1000 ** .5 * 10]), rtol=1e-4)


def test_gradient_clip_leaves_a_smaller_gradient_alone(ml_backend):
    np.testing.assert_allclose(sorted(clipped_sgd_change(100.)), [-30., -10.], rtol=1e-4)


def test_gradient_clip_rejects_a_norm_that_is_not_positive():
    with pytest.raises(ValueError, match='gradient_clip'):
        Method('physics', gradient_clip=0.)
    with pytest.raises(ValueError, match='max_norm'):
        clip_gradient_norm(object(), -1.)
    with pytest.raises(TypeError, match='Cannot clip'):
        clip_gradient_norm(object(), 1.)
