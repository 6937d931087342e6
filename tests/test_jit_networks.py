"""Compiled functions that call a network must see its current parameters, not those of their first trace.

Each test traces a compiled network call before training, trains a few steps, and compares the compiled result with
the eager call of the same network (equal) and with the result before training (different). A trace that keeps the
parameters of its first call (JAX with `math.jit_compile`) fails the first comparison.
"""
from dataclasses import replace

import numpy as np
import pytest
from phi import math
from phi.math import batch, channel

from phi_inverse.experiments.methods import start_training
from phi_inverse.experiments.scenes import stochastic_heat as stochastic_heat_scene
from phi_inverse.experiments.scenes import toy_sde as toy_sde_scene
from phi_inverse.support import networks
from phi_inverse.support.jit import jit_with_networks
from phi_inverse.support.jit_update import adam, jit_update

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def regression_problem():
    math.seed(0)
    net = networks.mlp(2, 1, [8], 'tanh')
    x = math.random_normal(batch(examples=16), channel(vector=2))
    y = math.sin(3 * x.vector[0:1]) * x.vector[1:2]

    def loss(x_, y_):
        return math.mean(math.l2_loss(math.native_call(net, x_) - y_), 'examples')
    return net, loss, x, y


def values(tensor) -> np.ndarray:
    return tensor.numpy(tensor.shape)


def assert_trained_and_current(before, after, eager):
    np.testing.assert_allclose(values(after), values(eager), rtol=1e-4, atol=1e-6)
    assert np.max(np.abs(values(after) - values(before))) > 1e-4


def test_compiled_network_call_sees_the_trained_parameters(ml_backend):
    net, loss, x, y = regression_problem()
    predict = jit_with_networks(lambda x_: math.native_call(net, x_), net)
    before = predict(x)
    update = jit_update(net, adam(net, 1e-1), loss)
    for _ in range(3):
        update(x, y)
    assert_trained_and_current(before, predict(x), math.native_call(net, x))


def test_compiled_network_call_is_traced_once(ml_backend):
    """New parameters reuse the trace: Python runs the function only while tracing (PyTorch: twice, to record
    the modules and to trace), never again after training steps."""
    net, loss, x, y = regression_problem()
    runs = []

    def predict(x_):
        runs.append(1)
        return math.native_call(net, x_)
    compiled = jit_with_networks(predict, net)
    compiled(x)
    traced = len(runs)
    update = jit_update(net, adam(net, 1e-1), loss)
    for _ in range(3):
        update(x, y)
        compiled(x)
    assert len(runs) == traced


def test_training_through_a_compiled_network_call_follows_the_eager_one(ml_backend):
    """Inside a compiled training update (where JAX traces the parameters) the compiled call uses the traced ones."""
    def losses(compile_call: bool):
        net, _, x, y = regression_problem()
        call = (lambda x_: math.native_call(net, x_))
        call = jit_with_networks(call, net) if compile_call else call
        update = jit_update(net, adam(net, 1e-2), lambda x_, y_: math.mean(math.l2_loss(call(x_) - y_), 'examples'))
        return [float(update(x, y)) for _ in range(5)]
    compiled = losses(True)
    np.testing.assert_allclose(compiled, losses(False), rtol=1e-4)
    assert compiled[-1] < compiled[0]


def test_toy_sde_evaluation_reconstructs_with_the_trained_network(ml_backend):
    """The scene's compiled correction is traced before training (the runner evaluates at step 0) and reused after."""
    scene = toy_sde_scene.ToySDEScene(trajectories=8, steps=10, test_paths=16)
    method = replace(toy_sde_scene.METHODS['1-step'], learning_rate=1e-2, final_learning_rate=None)
    net, _, step = start_training(scene, method, 8, seed=0, steps=3)
    before = scene.reconstruct(scene.compiled_correction(net), 'ode', method.objective.trained_with)
    for i in range(3):
        step(i)
    assert_trained_and_current(before, scene.reconstruct(scene.compiled_correction(net), 'ode', method.objective.trained_with),
                               scene.reconstruct(toy_sde_scene.ToySDEScene.correction(net), 'ode', method.objective.trained_with))


def test_stochastic_heat_evaluation_uses_the_trained_network(ml_backend, monkeypatch):
    scene = stochastic_heat_scene.StochasticHeatScene(train_size=4, test_size=2, resolution=8, steps=4, filters=4, levels=1, window=2)
    method = replace(scene.methods['smdp'], learning_rate=1e-2, final_learning_rate=None)
    net, _, step = start_training(scene, method, 2, seed=0, steps=3)
    before = scene.reconstruct(net, method, 'ode').values
    for i in range(3):
        step(i)
    compiled = scene.reconstruct(net, method, 'ode').values
    monkeypatch.setattr(stochastic_heat_scene, 'jit_with_networks', lambda f, *nets: f)
    assert_trained_and_current(before, compiled, scene.reconstruct(net, method, 'ode').values)
