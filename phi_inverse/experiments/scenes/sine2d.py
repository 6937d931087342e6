"""Sine-2D characterisation scene: how coupling `φ` and conditioning `ξ` affect SIP and network optimizers
(SIP paper, section 3.4, Fig. 5, appendix B.1).

Data: `y* ~ U(−1, 1)²`, fresh every step. Network: MLP 2 → [32, 64, 32] → 2 with ReLU. SIP update: the
saddle-free Newton step of `phi_inverse.updates` with each eigen-component's predicted loss change limited to
0.2. The problem is multimodal, so the error is measured to the nearest exact solution: `x_dist = ‖x̂ − x*‖/ξ`.
"""
from typing import Dict

import numpy as np
from phi import math
from phi.math import batch
from phiml import nn

from ... import updates
from ...metrics import half_squared_norm
from ...physics import sine2d
from ..methods import Method
from .sip_scene import PHYSICS, SIP, Batch, SIPScene


class Sine2DScene(SIPScene):
    """Invert `P(x) = (sin(x̂₁/ξ), ξ x̂₂)`, `x̂ = γ R_φ x`, with the paper's methods and learning rates.

    Args:
        xi: Conditioning `ξ`; SGD's learning rate is `10⁻²/ξ²`.
        phi: Coupling angle in degrees.
        gamma: Global scale `γ` (10, the best value for Adam according to the paper).
        max_loss_change: Limit of the saddle-free Newton step per eigen-component.
    """
    name = 'sine2d'

    def __init__(self, xi: float = 32., phi: float = 45., gamma: float = 10., max_loss_change: float = .2):
        if xi <= 0 or gamma <= 0:
            raise ValueError(f"Need xi > 0 and gamma > 0 but got xi={xi}, gamma={gamma}.")
        self.xi, self.phi, self.gamma, self.max_loss_change = xi, phi, gamma, max_loss_change
        self.methods: Dict[str, Method] = {
            'sip': Method(SIP, 'adam', 1e-3),
            'adam': Method(PHYSICS, 'adam', 1e-3),
            'sgd': Method(PHYSICS, 'sgd', 1e-2 / xi ** 2),
            'adadelta': Method(PHYSICS, 'adadelta', 3e-3),
            'adagrad': Method(PHYSICS, 'adagrad', 3e-3),
            'rmsprop': Method(PHYSICS, 'rmsprop', 3e-5),
        }
        self.update = updates.compiled(updates.saddle_free_newton(self.forward, max_loss_change))

    def forward(self, x):
        return sine2d.forward(x, self.xi, np.deg2rad(self.phi), self.gamma)

    def config(self) -> dict:
        return {'xi': self.xi, 'phi': self.phi, 'gamma': self.gamma, 'max_loss_change': self.max_loss_change}

    def sample(self, size: int, seed: int) -> Batch:
        y = np.random.default_rng(seed).uniform(-1, 1, (size, 2))
        return Batch(None, math.convert(math.tensor(y, batch('batch'), sine2d.VECTOR)))

    def network(self):
        return nn.mlp(2, 2, [32, 64, 32], activation='ReLU')

    def predict(self, net, batch: Batch):
        return math.native_call(net, batch.y)

    def simulator(self, batch: Batch):
        return self.forward

    def inverse_update(self, batch: Batch):
        return self.update

    def metrics(self, x_pred, batch: Batch) -> Dict[str, math.Tensor]:
        """`x_dist` (distance to the nearest exact solution over ξ) and `y_loss` per example."""
        x_dist = sine2d.solution_distance(x_pred, batch.y, self.xi, np.deg2rad(self.phi), self.gamma)
        return {'x_dist': x_dist, 'y_loss': half_squared_norm(self.forward(x_pred) - batch.y)}
