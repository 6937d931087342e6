"""Wave-packet scene: a network localises wave packets in noisy time series, against L-BFGS-B per example
(SIP paper, appendix C.1, Fig. 16).

Data: `t₀ ~ U[25.6, 128)`, `y* = y(t₀) + N(0, 0.1²)` per sample, 256 samples. Network: five blocks of two 1D
convolutions (16 filters, kernel 3, ReLU) and max pooling, dense layers 64 and 32, one output squashed by a
sigmoid onto the range of `t₀`. Unlike the paper's description, the layers use batch normalisation (PhiML's
`batch_norm=True`): with PyTorch's default initialisation the signal shrinks about five-fold per convolution
block, and without normalisation the output does not depend on the input (all predictions equal after 400
steps, measured). Both the network (Adam 10⁻³, backpropagating `½‖y(t̂₀) − y*‖²`) and L-BFGS-B (started at
the centre 76.8) minimise the same loss.
"""
import time
from typing import Dict

import numpy as np
from phi import math
from phi.math import batch, channel, spatial
from phiml import nn

from ... import updates
from ...metrics import half_squared_norm
from ...physics import wave_packet
from ..methods import Method
from .sip_scene import PHYSICS, Batch, SIPScene

T0_RANGE = (25.6, 128.)
CENTRE = sum(T0_RANGE) / 2


class WavePacketScene(SIPScene):
    """Localise `t₀` of a wave packet from a noisy recording.

    Args:
        noise: Standard deviation of the Gaussian noise on every sample.
        samples: Length of the time series.
    """
    name = 'wave_packet'
    methods: Dict[str, Method] = {'adam': Method(PHYSICS, 'adam', 1e-3)}

    def __init__(self, noise: float = .1, samples: int = wave_packet.SAMPLES):
        self.noise, self.samples = noise, samples

    def forward(self, t0):
        return wave_packet.forward(t0, samples=self.samples)

    def config(self) -> dict:
        return {'noise': self.noise, 'samples': self.samples, 't0_range': list(T0_RANGE), 'frequency': wave_packet.FREQUENCY,
                'width': wave_packet.WIDTH}

    def sample(self, size: int, seed: int) -> Batch:
        rng = np.random.default_rng(seed)
        t0 = math.tensor(rng.uniform(*T0_RANGE, size).astype(np.float32), batch('batch'))
        noise = math.tensor(rng.normal(0, self.noise, (size, self.samples)).astype(np.float32), batch('batch'), spatial('t'))
        return Batch(math.convert(t0), math.convert(self.forward(t0) + noise))

    def network(self):
        return nn.conv_classifier(1, [self.samples], 1, blocks=(16,) * 5, block_sizes=(2,) * 5, dense_layers=(64, 32),
                                  batch_norm=True, softmax=False)

    def predict(self, net, batch: Batch):
        output = math.native_call(net, math.expand(batch.y, channel(vector=1)))
        return T0_RANGE[0] + (T0_RANGE[1] - T0_RANGE[0]) * math.sigmoid(output)

    def simulator(self, batch: Batch):
        return self.forward

    def inverse_update(self, batch: Batch):
        raise NotImplementedError("The wave-packet scene compares a network trained with Adam to L-BFGS-B; it has no SIP method.")

    def metrics(self, t0, batch: Batch) -> Dict[str, math.Tensor]:
        """`x_mae` = |t̂₀ − t₀|, `y_loss` = ½‖y(t̂₀) − y*‖² and `localised` (1 within half a period of `t₀`), per example."""
        return {'x_mae': abs(t0 - batch.x), 'y_loss': half_squared_norm(self.forward(t0) - batch.y),
                'localised': wave_packet.localised(t0, batch.x)}

    def lbfgsb(self, batch: Batch, iterations: int = 100):
        """L-BFGS-B fits of every example, each started at the centre `t₀ = 76.8`; returns `(t̂₀, seconds)`."""
        start = time.perf_counter()
        guess = math.zeros(math.batch(batch.x)) + CENTRE
        t0 = guess + updates.iterative_inverse(self.forward, iterations, 'L-BFGS-B')(guess, y_target=batch.y)
        return t0, time.perf_counter() - start

    def random_guess(self, batch: Batch, seed: int):
        """Uniformly random positions, the chance level."""
        guess = np.random.default_rng(seed).uniform(*T0_RANGE, math.batch(batch.x).volume).astype(np.float32)
        return math.convert(math.tensor(guess, math.batch(batch.x)))
