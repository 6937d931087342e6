"""The PhiML 1.16 workarounds change behaviour; each test here fails without its patch."""
import numpy as np
import pytest
from phi import math
from phiml import nn

from phi_inverse.support import backends

BETA1, BETA2, EPSILON, LEARNING_RATE = .9, .999, 1e-7, .1


def reference_adam(weight, bias, inputs, targets, steps):
    """Adam on ½Σ(xW + b − t)² in NumPy, with the bias correction of step i+1 at step i."""
    parameters = [weight.astype(np.float64), bias.astype(np.float64)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in parameters]
    for i in range(steps):
        residual = inputs @ parameters[0] + parameters[1] - targets
        gradients = [inputs.T @ residual, residual.sum(0)]
        for p, (m, v), g in zip(parameters, moments, gradients):
            m[:] = BETA1 * m + (1 - BETA1) * g
            v[:] = BETA2 * v + (1 - BETA2) * g ** 2
            p -= LEARNING_RATE * (m / (1 - BETA1 ** (i + 1))) / (np.sqrt(v / (1 - BETA2 ** (i + 1))) + EPSILON)
    return parameters


def linear_problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 2)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)


@pytest.mark.parametrize('jit', [False, True], ids=['eager', 'jit'])
def test_jax_adam_matches_reference_adam(jit):
    pytest.importorskip('jax')
    with backends.get('jax'):
        net = nn.mlp(2, 1, [])
        weight, bias = [np.asarray(p) for p in net.parameters[0]]
        optimizer = nn.adam(net, LEARNING_RATE, epsilon=EPSILON)
        inputs, targets = linear_problem()
        x, t = math.tensor(inputs, math.batch('b'), math.channel('vector')), math.tensor(targets, math.batch('b'), math.channel('vector'))

        def loss(x, t):
            return math.l2_loss(math.native_call(net, x) - t, reduce=math.channel) * 1

        loss_function = math.jit_compile(loss) if jit else loss
        for _ in range(5):
            nn.update_weights(net, optimizer, loss_function, x, t)
        expected = reference_adam(weight, bias, inputs, targets, steps=5)
        for actual, reference in zip(net.parameters[0], expected):
            np.testing.assert_allclose(np.asarray(actual), reference, rtol=1e-4, atol=1e-5)


def test_tensorflow_jit_traces_without_autograph():
    """AutoGraph would silently turn this `if` on a traced tensor into tf.cond; without it, tracing fails."""
    pytest.importorskip('tensorflow')
    with backends.get('tensorflow'):
        @math.jit_compile
        def branch(x):
            value = x.native()
            if value > 0:
                value = value * 2
            return math.wrap(value)

        with pytest.raises(Exception, match='symbolic'):
            branch(math.tensor(1.))


@pytest.mark.parametrize('name', ['tanh', 'arctan', 'sinh'])
def test_jax_hyperbolic_functions_trace_and_differentiate(name):
    """Unpatched, these are NumPy's: `jit` fails on the tracer and the gradient is lost."""
    pytest.importorskip('jax')
    with backends.get('jax'):
        function = getattr(math, name)
        x = math.tensor(np.linspace(-2, 2, 5, dtype=np.float32), math.spatial('x'))
        compiled = math.jit_compile(lambda x: function(x))
        np.testing.assert_allclose(compiled(x).numpy(), getattr(np, name)(x.numpy()), rtol=1e-6)
        gradient = math.gradient(lambda x: math.sum(function(x)), wrt='x', get_output=False)(x)
        step = 1e-3
        numeric = (getattr(np, name)(x.numpy() + step) - getattr(np, name)(x.numpy() - step)) / (2 * step)
        np.testing.assert_allclose(gradient.numpy(), numeric, rtol=1e-2)


def test_tensorflow_differentiates_inside_jit():
    """PhiML's TensorFlow gradient branches in Python on a traced shape; patched, it decides on the static shape."""
    pytest.importorskip('tensorflow')
    with backends.get('tensorflow'):
        x = math.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), math.batch('b'), math.spatial('x'))
        gradient = math.gradient(lambda x: math.sum(x ** 2, 'x'), 'x', get_output=False)
        compiled = math.jit_compile(lambda x: gradient(x))
        np.testing.assert_allclose(compiled(x).numpy('b,x'), 2 * x.numpy('b,x'))
