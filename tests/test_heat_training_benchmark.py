"""The plain PyTorch / JAX heat training step of `benchmarks/heat_training.py` computes the scene's SMDP loss, and the
benchmark's rows run at a tiny size (no timing checks)."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))

import heat_training  # noqa: E402
from phi_inverse.support import backends  # noqa: E402
from phi_inverse.experiments.scenes.stochastic_heat import StochasticHeatScene  # noqa: E402

PLAIN_BACKENDS = [name for name in ('torch', 'jax') if name in backends.installed()]


def perturb(net, name: str, scale: float = .05):
    """Random offsets on every weight, so that the correction's every input matters even if the scene zero-initialises
    a layer."""
    if name == 'torch':
        import torch
        torch.manual_seed(1)
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.add_(scale * torch.randn_like(parameter))
    else:
        import jax
        rng = np.random.default_rng(1)
        leaves, tree = jax.tree_util.tree_flatten(net.parameters)
        net.parameters = jax.tree_util.tree_unflatten(tree, [p + scale * rng.standard_normal(p.shape).astype(p.dtype) for p in leaves])


@pytest.mark.parametrize('name', PLAIN_BACKENDS)
def test_plain_loss_equals_the_scenes_loss(name):
    """Same weights, same jittered window: the plain loss equals `scene.multi_step_loss` to float32 precision.

    It would catch a plain step that uses the nominal instead of the jittered `Δt`, another heat step, another time
    input or a shorter window.
    """
    with backends.get(name):
        scene = StochasticHeatScene(train_size=8, test_size=1, resolution=8, filters=4, levels=1)
        method = scene.methods['smdp']
        window = scene.windows(3, 3, seed=5)
        net = method.objective.network(scene)
        untouched = float(method.objective.loss(scene, net)(*window).numpy())
        perturb(net, name)
        phiml_value = float(method.objective.loss(scene, net)(*window).numpy())
        plain_value = heat_training.plain_loss(scene, net)(*window)
    assert abs(phiml_value - untouched) > 1e-3 * abs(untouched), 'the network must contribute to the loss'
    np.testing.assert_allclose(plain_value, phiml_value, rtol=1e-5)


def test_rows_run_and_are_complete(torch_backend):
    """A smoke test: the rows run all four computations and report finite, positive times."""
    table = heat_training.rows(window=3, batch_size=2, res=8, repeat=1, train_size=8)
    assert len(table) == 3
    for row in table:
        assert set(row) == {'name', 'baseline', 'value', 'ratio', 'aim'} and row['name'] and row['aim']
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ('baseline', 'value', 'ratio'))
