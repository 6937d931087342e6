"""What every scene provides to the runner: its settings, methods, test set and evaluation.

A scene is one inverse problem with its data, networks and the methods it offers (`methods.Method`). SIP scenes
derive from `sip_scene.SIPScene`; SMDP scenes implement the hooks their objectives call
(`smdp_objectives`). The runner (`runner.Experiment`) trains every scene the same way.
"""
from typing import Dict

import numpy as np

TEST_STREAM = 0
TRAINING_STREAM = 1


class Scene:
    """Base class of all scenes. Subclasses set `name` and `methods` and implement the methods below."""
    name: str = ''
    methods: Dict[str, 'Method'] = {}

    def config(self) -> dict:
        """The scene's settings, recorded in `metrics.json`."""
        raise NotImplementedError

    def test_set(self, size: int, seed: int):
        """The fixed test set of a run with seed `seed`: `size` examples, the same for every method."""
        raise NotImplementedError

    def evaluate(self, net, method, test_set, chunk: int) -> Dict[str, Dict[str, float]]:
        """Metrics of `net`, trained with `method`, on `test_set`, evaluated in chunks of at most `chunk` examples.

        Returns:
            `{variant: {metric: value}}` for each of `method.variants`, or `{'': {metric: value}}` without variants.
        """
        raise NotImplementedError


def data_seed(seed: int, *stream: int) -> int:
    """A 32-bit seed derived from the run seed and a stream index (e.g. `TRAINING_STREAM` and the step)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])
