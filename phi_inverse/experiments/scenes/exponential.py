"""Exponential scene: learn to invert `P(x) = eˣ` (SIP paper, section 2, Fig. 2, appendix C.2).

The curvature of `L = ½(eˣ − y*)²` around the solution `x* = log y*` scales with `y*²`, so the gradients of
small targets are drowned by those of large ones: SGD and Adam do not learn the small `y*`. Rescaling the
gradient in `x` to unit length per example (`Δx = −sign(∂L/∂x)`) or Newton's step fixes it.

Data: `x* ~ U(−12, 0)`, `y* = eˣ*`, fresh every step. Network: MLP 1 → [16, 64, 16] → 1 with sigmoid.
"""
from typing import Dict, Optional

import numpy as np
from phi import math
from phi.math import batch, channel
from phiml import nn

from ... import updates
from ..methods import Method
from .sip_scene import PHYSICS, Batch, InverseUpdateLoss, SIPScene

X_RANGE = (-12., 0.)
INVERSE_UPDATES = {
    'rescaled': lambda: updates.normalized_gradient(math.exp),
    'newton': lambda: updates.saddle_free_newton(math.exp),
    'newton-clipped': lambda: updates.damped_newton(math.exp, max_step=.1),
}


class ExponentialScene(SIPScene):
    """Invert `P(x) = eˣ`; `x` and `y` hold one number per example (no channel dimension).

    Methods: `sgd` and `adam` backpropagate `½(eˣ − y*)²`. `rescaled` (normalised gradient), `newton`
    (saddle-free Newton, i.e. `|∂L/∂x / ∂²L/∂x²|` downhill, the authors' "Newton") and `newton-clipped` (the same,
    at most 0.1 per step) train with SIP and Adam. The paper's SGD rate 10⁻² applies to the batch sum of the
    loss; this runner averages over the batch, so the equivalent rate is 1.
    """
    name = 'exponential'
    methods: Dict[str, Method] = {
        'sgd': Method(PHYSICS, 'sgd', 1.),
        'adam': Method(PHYSICS, 'adam', 1e-3),
        **{name: Method(InverseUpdateLoss(update), 'adam', 1e-3) for name, update in INVERSE_UPDATES.items()},
    }

    def config(self) -> dict:
        return {'x_range': list(X_RANGE)}

    def sample(self, size: int, seed: int) -> Batch:
        return self.examples(np.random.default_rng(seed).uniform(*X_RANGE, size))

    @staticmethod
    def examples(x: np.ndarray) -> Batch:
        """Examples with ground truth `x` (a NumPy vector) and `y* = eˣ`, on the default backend."""
        x = math.tensor(np.asarray(x, np.float32), batch('batch'))
        return Batch(math.convert(x), math.convert(math.exp(x)))

    def network(self):
        return nn.mlp(1, 1, [16, 64, 16], activation='Sigmoid')

    def predict(self, net, batch: Batch):
        return math.native_call(net, math.expand(batch.y, channel(vector=1)))

    def simulator(self, batch: Batch):
        return math.exp

    def inverse_update(self, batch: Batch):
        raise ValueError(f"The exponential scene's SIP methods bring their own inverse update: train one of "
                         f"{tuple(INVERSE_UPDATES)}.")
