"""The FNO factory: the paper's parameter count, the same function on PyTorch, JAX and TensorFlow, training and checkpoints."""
import numpy as np
import pytest
from phi import math
from phi.math import batch, channel, spatial
from phiml import nn

from phi_inverse.support import backends
from phi_inverse.support.checkpoint import Checkpoint
from phi_inverse.support.fno import fno, parameter_count, stacked
from phi_inverse.support.jit_update import jit_update

pytestmark = pytest.mark.usefixtures('single_torch_thread')



def test_paper_configuration_has_465377_parameters(ml_backend):
    """SMDP paper, table 2: 80 (lift) + 4·(2·20·20·12·12 + 420) + 2688 + 129, complex weights counted once."""
    assert parameter_count(fno(3, 1)) == 465_377


def test_sizes_must_be_positive(ml_backend):
    with pytest.raises(ValueError, match="'modes': 0"):
        fno(3, 1, modes=0)


def features(resolution: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    return math.tensor(rng.standard_normal((2, resolution, resolution, 3)).astype(np.float32), batch('b'), spatial('x,y'), channel(vector='a,b,c'))


def torch_reference():
    """A small PyTorch FNO's output on `features()` and its weights as NumPy arrays."""
    pytest.importorskip('torch')
    with backends.get('torch'):
        math.seed(0)
        torch_net = fno(3, 2, modes=5, width=6, layers=2, projection=8)
        expected = math.native_call(torch_net, features()).numpy('b,x,y,vector')
        return expected, {name: p.detach().numpy() for name, p in torch_net.state_dict().items()}


def test_torch_and_jax_compute_the_same_function():
    """JAX network given the PyTorch weights returns the PyTorch output (layouts, mode truncation, activation)."""
    pytest.importorskip('jax')
    expected, weights = torch_reference()
    with backends.get('jax'):
        jax_net = fno(3, 2, modes=5, width=6, layers=2, projection=8)
        jax_net.parameters = _torch_to_stax(weights, layers=2)
        actual = math.native_call(jax_net, features()).numpy('b,x,y,vector')
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_torch_and_keras_compute_the_same_function():
    """The Keras network given the PyTorch weights returns the PyTorch output."""
    pytest.importorskip('tensorflow')
    expected, weights = torch_reference()
    with backends.get('tensorflow'):
        keras_net = fno(3, 2, modes=5, width=6, layers=2, projection=8)
        _torch_to_keras(weights, keras_net)
        actual = math.native_call(keras_net, features()).numpy('b,x,y,vector')
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def _torch_to_stax(weights: dict, layers: int):
    def dense(name):
        return weights[name + '.weight'][:, :, 0, 0].T, weights[name + '.bias']
    params = [dense('lift')]
    for i in range(layers):
        spectral = weights[f'spectral.{i}.weights']
        params += [(), (np.stack([spectral.real, spectral.imag], -1), dense(f'pointwise.{i}')), ()]
        if i < layers - 1:
            params.append(())
    return params + [dense('project'), (), dense('out')]


def _torch_to_keras(weights: dict, net):
    def dense(layer, name):
        layer.set_weights([weights[name + '.weight'][:, :, 0, 0].T, weights[name + '.bias']])
    for layer, name in ((net.lift, 'lift'), (net.project, 'project'), (net.out, 'out')):
        dense(layer, name)
    for i, (spectral, pointwise) in enumerate(zip(net.spectral, net.pointwise)):
        complex_weights = weights[f'spectral.{i}.weights']
        spectral.set_weights([np.stack([complex_weights.real, complex_weights.imag], -1)])
        dense(pointwise, f'pointwise.{i}')


def shift_error(net, x, cells: int = 3) -> float:
    shifted = math.native_call(net, math.tensor(np.roll(x.numpy('b,x,y,vector'), cells, axis=1), x.shape))
    return np.abs(shifted.numpy('b,x,y') - np.roll(math.native_call(net, x).numpy('b,x,y'), cells, axis=1)).max()


def test_periodic_output_is_shift_equivariant_and_padding_breaks_it(ml_backend):
    x = features()
    assert shift_error(fno(3, 1, modes=4, width=8, layers=2, projection=16), x) < 1e-5
    assert shift_error(fno(3, 1, modes=4, width=8, layers=2, projection=16, periodic=False), x) > 1e-4


def test_stacked_network_starts_from_its_parts(network_backend):
    x = features()
    first, second = fno(3, 1, modes=4, width=8, layers=2, projection=16), fno(3, 2, modes=4, width=8, layers=1, projection=8)
    expected = np.concatenate([math.native_call(n, x).numpy('b,x,y,vector') for n in (first, second)], -1)
    net = stacked(first, second)
    np.testing.assert_allclose(math.native_call(net, x).numpy('b,x,y,vector'), expected, atol=1e-6)


def test_compiled_training_fits_a_target_and_checkpoints_restore_it(network_backend, tmp_path):
    math.seed(1)
    net = stacked(fno(3, 1, modes=4, width=8, layers=2, projection=16), fno(3, 1, modes=4, width=8, layers=2, projection=16))
    optimizer = nn.adam(net, 3e-3)
    x = features()
    target = math.stack([x.vector['a'] * 2, -x.vector['b']], channel(vector='p,q'))

    def loss(x, target):
        return math.mean(math.l2_loss(math.native_call(net, x) - target), 'b')
    first = float(loss(x, target))
    update = jit_update(net, optimizer, loss)
    for _ in range(30):
        update(x, target)
    trained = math.native_call(net, x).numpy('b,x,y,vector')
    assert float(loss(x, target)) < .5 * first
    checkpoint = Checkpoint(str(tmp_path / 'fno'), {'net': net, 'optimizer': optimizer})
    checkpoint.save({})
    math.seed(2)
    restored = stacked(fno(3, 1, modes=4, width=8, layers=2, projection=16), fno(3, 1, modes=4, width=8, layers=2, projection=16))
    Checkpoint(str(tmp_path / 'fno'), {'net': restored, 'optimizer': nn.adam(restored, 3e-3)}).load()
    np.testing.assert_allclose(math.native_call(restored, x).numpy('b,x,y,vector'), trained, atol=1e-6)
