"""The PhiML 1.16 workarounds of `compat.WORKAROUNDS`.

Each defect test runs twice: with all workarounds but its own (the defect shows) and with all of them (it is
gone). Deleting a workaround, or making it a no-op, fails its test.
"""
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from phi import math
from phiml import nn

from phi_inverse.support import backends, compat

BETA1, BETA2, EPSILON, LEARNING_RATE, STEPS = .9, .999, 1e-7, .1, 5
DEFECT_TESTS = {'jax_optimizer_step', 'jax_numpy_math', 'tensorflow_jit_without_autograph', 'tensorflow_gradient_in_jit'}
PYTHON_BOOL_OF_TRACED_TENSOR = 'symbolic `tf.Tensor` as a Python `bool`'  # TensorFlow's error
REPOSITORY = Path(__file__).resolve().parent.parent


def test_every_workaround_has_a_defect_test():
    assert set(compat.WORKAROUNDS) == DEFECT_TESTS


@contextmanager
def reverted(name: str):
    """All workarounds but `name`, which is restored afterwards."""
    workaround = compat.WORKAROUNDS[name]
    assert workaround.is_applied(), f"'{name}' should be in effect before the test"
    workaround.revert()
    try:
        assert not workaround.is_applied()
        yield workaround
    finally:
        workaround.apply()
    assert workaround.is_applied()


# --- JAX Adam ---

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


def train_with_adam(jit: bool):
    """`STEPS` plain `nn.adam` + `nn.update_weights` steps on the default backend: (initial, final) [W, b]."""
    net = nn.mlp(2, 1, [])
    initial = [np.asarray(p) for p in net.parameters[0]]
    optimizer = nn.adam(net, LEARNING_RATE, epsilon=EPSILON)
    inputs, targets = linear_problem()
    x, t = math.tensor(inputs, math.batch('b'), math.channel('vector')), math.tensor(targets, math.batch('b'), math.channel('vector'))

    def loss(x, t):
        return math.l2_loss(math.native_call(net, x) - t, reduce=math.channel) * 1
    loss_function = math.jit_compile(loss) if jit else loss
    for _ in range(STEPS):
        nn.update_weights(net, optimizer, loss_function, x, t)
    return initial, [np.asarray(p) for p in net.parameters[0]]


def deviation_from_reference_adam(initial, final) -> float:
    expected = reference_adam(*initial, *linear_problem(), steps=STEPS)
    return max(float(np.max(np.abs(actual - reference))) for actual, reference in zip(final, expected))


@pytest.mark.parametrize('jit', [False, True], ids=['eager', 'jit'])
def test_jax_adam_matches_reference_adam(jit):
    pytest.importorskip('jax')
    with backends.get('jax'):
        with reverted('jax_optimizer_step'):
            defective = deviation_from_reference_adam(*train_with_adam(jit))
        fixed = deviation_from_reference_adam(*train_with_adam(jit))
    assert defective > 1e-2
    assert fixed < 1e-4


# --- JAX hyperbolic and inverse trigonometric functions ---

def jax_function_traced_and_differentiated(name: str):
    function = getattr(math, name)
    x = math.tensor(np.linspace(-2, 2, 5, dtype=np.float32), math.spatial('x'))
    value = math.jit_compile(lambda x: function(x))(x)
    gradient = math.gradient(lambda x: math.sum(function(x)), wrt='x', get_output=False)(x)
    return x.numpy(), value.numpy(), gradient.numpy()


@pytest.mark.parametrize('name', ['tanh', 'arctan', 'sinh'])
def test_jax_hyperbolic_functions_trace_and_differentiate(name):
    jax = pytest.importorskip('jax')
    with backends.get('jax'):
        with reverted('jax_numpy_math'), pytest.raises(jax.errors.TracerArrayConversionError):
            jax_function_traced_and_differentiated(name)
        x, value, gradient = jax_function_traced_and_differentiated(name)
    np.testing.assert_allclose(value, getattr(np, name)(x), rtol=1e-6)
    step = 1e-3
    numeric = (getattr(np, name)(x + step) - getattr(np, name)(x - step)) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-2)


# --- TensorFlow tracing ---

def tensorflow_python_branch_on_traced_value():
    """Doubles positive inputs with a Python `if` on the traced value: AutoGraph turns it into `tf.cond`."""
    @math.jit_compile
    def branch(x):
        value = x.native()
        if value > 0:
            value = value * 2
        return math.wrap(value)
    return float(branch(math.tensor(1.)))


def test_tensorflow_jit_traces_without_autograph():
    pytest.importorskip('tensorflow')
    with backends.get('tensorflow'):
        with reverted('tensorflow_jit_without_autograph'):
            assert tensorflow_python_branch_on_traced_value() == 2.
        with pytest.raises(TypeError, match=PYTHON_BOOL_OF_TRACED_TENSOR):
            tensorflow_python_branch_on_traced_value()


def tensorflow_gradient_inside_jit():
    x = math.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), math.batch('b'), math.spatial('x'))
    gradient = math.gradient(lambda x: math.sum(x ** 2, 'x'), 'x', get_output=False)
    return x.numpy('b,x'), math.jit_compile(lambda x: gradient(x))(x).numpy('b,x')


def test_tensorflow_differentiates_inside_jit():
    pytest.importorskip('tensorflow')
    with backends.get('tensorflow'):
        with reverted('tensorflow_gradient_in_jit'), pytest.raises(TypeError, match=PYTHON_BOOL_OF_TRACED_TENSOR):
            tensorflow_gradient_inside_jit()
        x, gradient = tensorflow_gradient_inside_jit()
    np.testing.assert_allclose(gradient, 2 * x)


# --- Applying: idempotent, version-gated, verified ---

def replaced_attributes() -> dict:
    return {(owner, attribute): owner.__dict__[attribute]
            for workaround in compat.WORKAROUNDS.values() if workaround.module in sys.modules
            for owner, attribute in workaround.replacements(sys.modules[workaround.module])}


def test_applying_twice_changes_nothing():
    pytest.importorskip('jax')
    backends.get('jax')
    compat.apply()
    before = replaced_attributes()
    compat.apply()
    for workaround in compat.WORKAROUNDS.values():
        workaround.apply()
    after = replaced_attributes()
    assert after.keys() == before.keys() and all(after[key] is before[key] for key in before)
    assert sum(isinstance(finder, compat._WorkaroundFinder) for finder in sys.meta_path) == 1
    from phiml.backend.jax import stax_nets
    from phiml.backend.jax._jax_backend import JaxBackend
    with reverted('jax_optimizer_step'):
        assert stax_nets.JaxOptimizer.update.__module__ == 'phiml.backend.jax.stax_nets'
    with reverted('jax_numpy_math'):
        assert JaxBackend.tanh is np.tanh


def test_other_phiml_versions_are_not_patched_and_warned_about(monkeypatch):
    pytest.importorskip('jax')
    import phiml
    backends.get('jax')
    with reverted('jax_optimizer_step') as workaround, monkeypatch.context() as patch:
        patch.setattr(phiml, '__version__', '1.17.0')
        with pytest.warns(RuntimeWarning, match=r"'jax_optimizer_step' to PhiML 1\.17\.0 because it is written for PhiML >=1\.16\.1,<1\.17"):
            assert not workaround.apply()
        assert not workaround.is_applied()


def init_without_step_counter(self, initialize, update, get_params):
    self._initialize, self._update, self._get_params = initialize, update, get_params
    self._state, self._update_function_cache = None, {}


@pytest.mark.parametrize('member', ['JaxOptimizer.update', 'JaxOptimizer.get_network_parameters', 'JaxOptimizer()._step_i'])
def test_missing_private_members_are_not_patched_and_warned_about(monkeypatch, member):
    pytest.importorskip('jax')
    import phiml
    from phiml.backend.jax import stax_nets
    backends.get('jax')
    with reverted('jax_optimizer_step') as workaround, monkeypatch.context() as patch:
        if member.startswith('JaxOptimizer()'):
            patch.setattr(stax_nets.JaxOptimizer, '__init__', init_without_step_counter)
        else:
            patch.delattr(stax_nets.JaxOptimizer, member.split('.')[1])
        with pytest.warns(RuntimeWarning, match=re.escape(f"PhiML {phiml.__version__.strip()} lacks {member}")):
            assert not workaround.apply()
        assert not workaround.is_applied()
    for workaround in compat.WORKAROUNDS.values():
        if workaround.module in sys.modules:
            assert workaround.missing(sys.modules[workaround.module]) == []


# --- Import order ---

IMPORT_ORDERS = {
    'phi_inverse first': ['phi_inverse', 'phi.jax.stax.flow', 'phi.tf.flow'],
    'phi_inverse last': ['phi.tf.flow', 'phi.jax.stax.flow', 'phi_inverse'],
}
IMPORT_ORDER_SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from phiml.backend.jax import JAX
from phi_inverse.support import compat
from tests.test_compat import train_with_adam, deviation_from_reference_adam
with JAX:
    deviations = {jit: deviation_from_reference_adam(*train_with_adam(jit)) for jit in (False, True)}
print(json.dumps({'applied': {name: w.is_applied() for name, w in compat.WORKAROUNDS.items()}, 'deviations': list(deviations.values())}))
"""


@pytest.mark.parametrize('order', list(IMPORT_ORDERS))
def test_workarounds_apply_whatever_the_import_order(order):
    """In a fresh process, plain `nn.adam` + `nn.update_weights` on JAX is Adam, and every workaround is in effect."""
    pytest.importorskip('jax')
    pytest.importorskip('tensorflow')
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPOSITORY), os.environ.get('PYTHONPATH', '')]))
    process = subprocess.run([sys.executable, '-c', IMPORT_ORDER_SCRIPT, *IMPORT_ORDERS[order]], cwd=REPOSITORY,
                             env=environment, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result['applied'] == {name: True for name in DEFECT_TESTS}
    assert max(result['deviations']) < 1e-4
