"""The heat experiment's networks: the paper's parameter count, the same function on PyTorch and JAX, periodicity,
Monte-Carlo dropout masks (eager and compiled) and training."""
import numpy as np
import pytest
from phi import math
from phi.math import batch, channel, spatial
from phiml import nn

from phi_inverse.support import backends
from phi_inverse.support.dropout_u_net import dropout_noise, dropout_u_net
from phi_inverse.support.fno import parameter_count
from phi_inverse.support.heat_networks import encoder_decoder, periodic_padding

pytestmark = pytest.mark.usefixtures('single_torch_thread')



def features(channels: int = 2, resolution: int = 8, examples: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((examples, resolution, resolution, channels)).astype(np.float32)
    return math.tensor(values, batch('b'), spatial('x,y'), channel(vector=channels))


def call(net, *inputs) -> np.ndarray:
    return math.native_call(net, *inputs).numpy('b,x,y,vector')


def test_paper_configuration_has_330754_parameters(network_backend):
    """SMDP paper, table 2: 1056 + 10·16,416 + 33 + 544 + 10·16,416 + 801, decoder block 3 included."""
    assert parameter_count(encoder_decoder(2, 1)) == 330_754
    assert parameter_count(encoder_decoder(2, 1, encoder_skip=False)) == 330_754


def test_torch_and_jax_encoder_decoders_compute_the_same_function():
    """JAX network given the PyTorch weights returns the PyTorch output ('SAME' offsets of even kernels, skip, crop)."""
    pytest.importorskip('jax')
    config = dict(width=3, blocks=3, kernel=4, padding=5)
    with backends.get('torch'):
        math.seed(0)
        torch_net = encoder_decoder(2, 2, **config)
        expected = call(torch_net, features())
        weights = [p.detach().numpy() for p in torch_net.parameters()]
    with backends.get('jax'):
        jax_net = encoder_decoder(2, 2, **config)
        jax_net.parameters = _torch_to_stax(weights, transposed_layers=range(8, 15))
        actual = call(jax_net, features())
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def _torch_to_stax(weights: list, transposed_layers) -> list:
    """Torch `(out, in, k, k)` convolutions → HWIO; `(in, out, k, k)` transposed ones → spatially flipped HWIO."""
    layers = []
    for i, (kernel, bias) in enumerate(zip(weights[::2], weights[1::2])):
        if i in transposed_layers:
            layers.append((kernel.transpose(2, 3, 0, 1)[::-1, ::-1].copy(), bias))
        else:
            layers.append((kernel.transpose(2, 3, 1, 0), bias))
    return layers


def shift_error(net, x, cells: int, *extra) -> float:
    shifted = math.tensor(np.roll(x.numpy('b,x,y,vector'), (cells, -cells), axis=(1, 2)), x.shape)
    expected = np.roll(call(net, x, *extra), (cells, -cells), axis=(1, 2))
    return np.abs(call(net, shifted, *extra) - expected).max()


def test_encoder_decoder_is_periodic_once_padding_covers_the_receptive_field(network_backend):
    """Exact at `periodic_padding()`, broken by zero padding and (the edge effects of) one cell less."""
    x = features()
    exact = periodic_padding(1, 4)
    assert shift_error(encoder_decoder(2, 1, width=4, blocks=1, padding=exact), x, 3) < 1e-5
    assert shift_error(encoder_decoder(2, 1, width=4, blocks=1, padding=exact - 1), x, 3) > 1e-4
    assert shift_error(encoder_decoder(2, 1, width=4, blocks=1, padding=0), x, 3) > 1e-3


def test_authors_skip_makes_decoder_block_3_unused(network_backend):
    """`d₃ = e₃ + d₂` (authors) ignores block 3's convolutions; `encoder_skip=False` uses them."""
    x = features()
    for skip, unused in ((True, True), (False, False)):
        math.seed(0)
        net = encoder_decoder(2, 1, width=3, blocks=3, padding=2, encoder_skip=skip)
        before = call(net, x)
        if network_backend.name == 'torch':
            net.decoder[2][0].layer.weight.data += 1.
        else:
            index = 1 + 2 * 3 + 2 + 2 * 2  # lift, encoder, bottleneck and expansion, decoder blocks 1-2
            net.parameters[index] = (net.parameters[index][0] + 1., net.parameters[index][1])
        assert (np.abs(call(net, x) - before).max() < 1e-6) == unused


def test_u_net_is_periodic_for_shifts_by_the_coarsest_cell(network_backend):
    x = features(channels=1, resolution=16)
    assert shift_error(dropout_u_net(1, 1, filters=3, levels=2, dropout=0.), x, 4) < 1e-5
    net = dropout_u_net(1, 1, filters=3, levels=2, dropout=.3)
    assert shift_error(net, x, 4, dropout_noise(net, x.shape.batch)) < 1e-5


def test_dropout_samples_differ_between_calls_and_examples_and_vanish_without_dropout(network_backend):
    same_inputs = math.expand(features(channels=1, examples=1).b[0], batch(b=2))
    math.seed(0)
    net = dropout_u_net(1, 1, filters=3, levels=2, dropout=.3)
    first, second = call(net, same_inputs), call(net, same_inputs)
    assert np.abs(first - second).max() > 1e-4
    assert np.abs(first[0] - first[1]).max() > 1e-4
    deterministic = dropout_u_net(1, 1, filters=3, levels=2, dropout=0.)
    np.testing.assert_array_equal(call(deterministic, same_inputs), call(deterministic, same_inputs))
    np.testing.assert_allclose(call(deterministic, same_inputs, dropout_noise(net, batch(b=2))), call(deterministic, same_inputs), atol=1e-6)


def test_compiled_calls_draw_new_masks_from_the_noise_argument(network_backend):
    x = features(channels=1)
    math.seed(0)
    net = dropout_u_net(1, 1, filters=3, levels=2, dropout=.3)
    compiled = math.jit_compile(lambda x, noise: math.native_call(net, x, noise))
    noise = dropout_noise(net, x.shape.batch)
    first = compiled(x, noise).numpy('b,x,y')
    np.testing.assert_allclose(first, call(net, x, noise)[..., 0], atol=1e-5)
    assert np.abs(compiled(x, dropout_noise(net, x.shape.batch)).numpy('b,x,y') - first).max() > 1e-4


def test_compiled_calls_without_noise_resample_on_torch_and_refuse_on_jax(network_backend):
    x = features(channels=1)
    net = dropout_u_net(1, 1, filters=3, levels=2, dropout=.3)
    compiled = math.jit_compile(lambda x: math.native_call(net, x))
    if network_backend.name == 'jax':
        with pytest.raises(ValueError, match='argument'):
            compiled(x)
    else:
        assert np.abs(compiled(x).numpy('b,x,y') - compiled(x).numpy('b,x,y')).max() > 1e-4


@pytest.mark.parametrize('build', ['encoder_decoder', 'dropout_u_net'])
def test_one_compiled_adam_step_lowers_the_loss(network_backend, build):
    math.seed(1)
    x = features(channels=1)
    target = x * 2
    if build == 'encoder_decoder':
        net = encoder_decoder(1, 1, width=4, blocks=1, padding=2)
        inputs = (x,)
    else:
        net = dropout_u_net(1, 1, filters=3, levels=2, dropout=.2)
        inputs = (x, dropout_noise(net, x.shape.batch))

    def loss(inputs: tuple, target):
        return math.mean(math.l2_loss(math.native_call(net, *inputs) - target), 'b')
    before = float(loss(inputs, target))
    nn.update_weights(net, nn.adam(net, 1e-2), math.jit_compile(loss), inputs, target)
    assert float(loss(inputs, target)) < before
