"""The runner on a scene whose one network serves several entries of metrics.json (like SMDP's ODE and SDE)."""
import json
from dataclasses import dataclass, replace

import numpy as np
import pytest
from phi import math
from phi.math import batch, channel
from phiml import nn

from phi_inverse.experiments.demo import select_methods
from phi_inverse.experiments.methods import Method
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.scenes.base import Scene


@dataclass(frozen=True)
class Regression:
    """Fit `y = 2x` with a linear network."""

    def network(self, scene):
        return nn.mlp(1, 1, [])

    def loss(self, scene, net):
        def loss(x):
            return math.mean((math.native_call(net, x) - 2 * x) ** 2, batch)
        return loss

    def batches(self, scene, size, steps):
        return lambda i, seed: (math.tensor(np.random.default_rng(seed).normal(size=(size, 1)), batch('b'), channel('vector')),)


class TwoReadoutScene(Scene):
    """Evaluates one network two ways: its error, and its error doubled."""
    name = 'two_readouts'
    methods = {'fit': Method(Regression(), learning_rate=.1, variants=('once', 'twice')),
               'plain': Method(Regression(), learning_rate=.1)}

    def config(self):
        return {}

    def test_set(self, size, seed):
        return math.tensor(np.linspace(-1, 1, size)[:, None], batch('b'), channel('vector'))

    def evaluate(self, net, method, test_set, chunk):
        error = float(math.mean(abs(math.native_call(net, test_set) - 2 * test_set), 'b,vector'))
        readouts = {'once': {'error': error}, 'twice': {'error': 2 * error, 'constant': -1.}}
        return {v: readouts[v] for v in method.variants} if method.variants else {'': {'error': error}}


def test_one_network_records_each_variant(tmp_path, torch_backend):
    experiment = Experiment(TwoReadoutScene(), batch_size=8, test_size=5, out=str(tmp_path), config={'steps': 20})
    experiment.run('fit', TwoReadoutScene.methods['fit'], steps=20, eval_every=10)
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    once, twice = metrics['methods']['fit-once'], metrics['methods']['fit-twice']
    assert list(metrics['methods']) == ['fit-once', 'fit-twice']
    assert once['curve']['step'] == [0, 10, 20] and once['curve']['wall_time'][0] == 0
    assert np.all(np.diff(once['curve']['wall_time']) > 0)
    assert once['curve']['error'][-1] < .5 * once['curve']['error'][0]
    np.testing.assert_allclose(twice['curve']['error'], 2 * np.asarray(once['curve']['error']))
    assert twice['final']['constant'] == -1 and once['model'] == twice['model'] == 'fit'
    assert once['seconds_per_step'] > 0 and metrics['config']['steps'] == 20


def test_methods_are_selected_by_name_or_by_entry():
    methods = TwoReadoutScene.methods
    assert select_methods(methods, ['fit'], {})['fit'].variants == ('once', 'twice')
    assert select_methods(methods, ['fit-twice'], {})['fit'].variants == ('twice',)
    assert select_methods(methods, ['fit-twice', 'plain'], {'plain': .5})['plain'].learning_rate == .5
    with pytest.raises(SystemExit, match='fit-once'):
        select_methods(methods, ['fit-thrice'], {})
    with pytest.raises(SystemExit, match='not among'):
        select_methods(methods, ['fit'], {'plain': .5})


def test_diverging_method_is_recorded_for_every_entry(tmp_path, torch_backend):
    experiment = Experiment(TwoReadoutScene(), batch_size=8, test_size=5, out=str(tmp_path))
    with pytest.warns(RuntimeWarning, match='--lr fit='):
        assert experiment.run('fit', replace(TwoReadoutScene.methods['fit'], optimizer='sgd', learning_rate=1e3), steps=20, eval_every=5) is None
    assert {e['diverged_at'] for e in experiment.metrics['methods'].values()} == {experiment.metrics['methods']['fit-once']['diverged_at']}
    assert set(experiment.metrics['methods']) == {'fit-once', 'fit-twice'}
