import numpy as np
import pytest
from phi import math
from phi.math import batch, channel
from phiml import nn

from phi_inverse.support import networks
from phi_inverse.support.jit_update import adam, cosine_decay, jit_update, set_learning_rate


def regression_problem():
    math.seed(0)
    net = nn.mlp(2, 1, [16], activation='tanh')
    x = math.random_normal(batch(examples=64), channel(vector=2))
    y = math.sin(3 * x.vector[0:1]) * x.vector[1:2]

    def loss(x_, y_):
        return math.mean(math.l2_loss(math.native_call(net, x_) - y_), 'examples')
    return net, loss, x, y


def test_compiled_update_follows_the_eager_update(ml_backend):
    """Same network, same Adam: the compiled and the eager update produce the same losses, step after step."""
    net, loss, x, y = regression_problem()
    compiled = jit_update(net, adam(net, 1e-2), loss)
    compiled_losses = [float(compiled(x, y)) for _ in range(60)]
    net, loss, x, y = regression_problem()
    optimizer = nn.adam(net, 1e-2)
    eager_losses = [float(math.sum(nn.update_weights(net, optimizer, loss, x, y))) for _ in range(60)]
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=2e-3)
    assert compiled_losses[-1] < .7 * compiled_losses[0]


def test_schedule_is_followed_inside_the_compiled_update(ml_backend):
    """A cosine schedule that reaches 0 after 5 steps freezes the network from then on, on every backend (on JAX
    only if the compiled update sees the advancing step counter rather than the one of its first trace)."""
    net, loss, x, y = regression_problem()
    update = jit_update(net, adam(net, cosine_decay(1e-2, 0., 5)), loss)
    losses = [float(update(x, y)) for _ in range(9)]
    assert losses[4] < losses[0]
    assert losses[6] == pytest.approx(losses[8], rel=1e-6) and losses[5] == pytest.approx(losses[8], rel=1e-6)


def test_schedule_matches_setting_the_learning_rate_by_hand(torch_backend):
    net, loss, x, y = regression_problem()
    update = jit_update(net, adam(net, cosine_decay(1e-2, 1e-3, 10)), loss)
    scheduled = [float(update(x, y)) for _ in range(12)]
    net, loss, x, y = regression_problem()
    optimizer = nn.adam(net, 1e-2)
    by_hand = []
    for i in range(12):
        set_learning_rate(optimizer, 1e-3 + (1e-2 - 1e-3) * .5 * (1 + np.cos(np.pi * min(i, 10) / 10)))
        by_hand.append(float(math.sum(nn.update_weights(net, optimizer, loss, x, y))))
    np.testing.assert_allclose(scheduled, by_hand, rtol=2e-3)


def test_cosine_decay_runs_from_start_to_end():
    rate = cosine_decay(1e-3, 1e-5, 100)
    assert rate(0) == pytest.approx(1e-3) and rate(50) == pytest.approx(.5 * (1e-3 + 1e-5)) and rate(100) == rate(500) == pytest.approx(1e-5)


def test_learning_rate_of_an_unknown_optimizer_names_the_fix():
    with pytest.raises(TypeError, match='adam'):
        set_learning_rate(object(), 1e-3)


def test_elu_mlp_has_the_requested_layers_and_activation(ml_backend):
    net = networks.mlp(2, 1, [30, 30, 25, 20, 10], 'ELU')
    assert nn.parameter_count(net) == (2 * 30 + 30) + (30 * 30 + 30) + (30 * 25 + 25) + (25 * 20 + 20) + (20 * 10 + 10) + (10 + 1)
    x = math.tensor(np.random.default_rng(0).normal(size=(64, 2)) * 3, batch('examples'), channel(vector=2))
    outputs = {}
    for key, name in (('ELU', 'ELU'), ('ELU again', 'ELU'), ('ReLU', 'ReLU')):
        math.seed(0)
        outputs[key] = math.native_call(networks.mlp(2, 1, [8], name), x).numpy('examples,vector')
    np.testing.assert_array_equal(outputs['ELU'], outputs['ELU again'])
    assert not np.allclose(outputs['ELU'], outputs['ReLU']), 'the activation must change the network'


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match='ELU'):
        networks.activation('swish')
