"""Evaluation of the stochastic heat scene: reconstruction MSE (also split over the scales of the error) and
spectral error of each method, and the same metrics of the exact posterior (SMDP paper, appendix D)."""
from typing import Dict, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.math import Tensor

from ...physics import stochastic_heat
from ...smdp.metrics import RADIUS, reconstruction_mse, reconstruction_mse_by_radius, spectral_error
from ..methods import Method

EXAMPLES = 'examples'
EVALUATION_CHUNK = 100
CLEAN_NOISE = .01
"""Noise of the second test set `P_T(x_0) + 0.01·z`."""


class StochasticHeatEvaluation:
    """The metrics of `StochasticHeatScene`; needs its test set, `reconstruct`, `end_time`, `diffusion` and time grid."""

    def evaluate(self, net, method: Method, test_set, chunk: int) -> Dict[str, Dict[str, float]]:
        """Reconstruction MSE and spectral error for each sampler of `method`, on the simulated observations and on
        `P_T(x_0) + 0.01·z` (`_clean`)."""
        initial, observation = test_set
        results = {}
        for sampler in method.variants or (None,):
            results[sampler or ''] = {**self._metrics(net, method, sampler, initial, observation, ''),
                                      **self._metrics(net, method, sampler, initial, self.clean_observation, '_clean')}
        return results

    def _metrics(self, net, method, sampler, initial, observation, suffix: str) -> Dict[str, float]:
        predictions = [self.reconstruct(net, method, sampler, observation[{EXAMPLES: slice(start, start + EVALUATION_CHUNK)}], seed=start)
                       for start in range(0, initial.shape.get_size(EXAMPLES), EVALUATION_CHUNK)]
        return self._scores(predictions[0].with_values(math.concat([p.values for p in predictions], EXAMPLES)), initial, suffix)

    def _scores(self, x0_pred: CenteredGrid, x0: CenteredGrid, suffix: str = '') -> Dict[str, float]:
        mse = reconstruction_mse(x0_pred, x0, self.observe)
        return {f'mse{suffix}': float(math.mean(mse, EXAMPLES)), f'spectral_error{suffix}': float(math.mean(spectral_error(x0_pred, x0), EXAMPLES))}

    def observe(self, x: CenteredGrid) -> CenteredGrid:
        """`P_T(x)`, the noise-free forward simulation that the reconstruction MSE compares after."""
        return stochastic_heat.deterministic_step(x, self.end_time)

    def mse_by_radius(self, x0_pred: CenteredGrid) -> np.ndarray:
        """The test-set reconstruction MSE of `x0_pred` split over the radius bins `r = 0, 1, …` of the error spectrum."""
        return math.mean(reconstruction_mse_by_radius(x0_pred, self.test_initial, self.observe), EXAMPLES).numpy(RADIUS)

    def posterior(self, clean: bool = False) -> Tuple[CenteredGrid, Tensor]:
        """The exact posterior of the test initial states given the simulated observations or, with `clean`, given
        `P_T(x_0) + 0.01·z`: its mean (the Wiener filter) and the variance of each Fourier coefficient. The data are
        Gaussian and the physics linear, so the posterior is Gaussian and diagonal in Fourier space."""
        gain, prior = stochastic_heat.decay(self.test_initial, self.end_time), stochastic_heat.prior_variance(self.test_initial)
        if clean:
            return stochastic_heat.posterior(self.clean_observation, gain, prior, math.ones_like(prior) * CLEAN_NOISE ** 2)
        noise = stochastic_heat.noise_variance(self.test_initial, self.nominal_times(), self.diffusion)
        return stochastic_heat.posterior(self.test_observation, gain, prior, noise)

    def references(self, seed: int = 0) -> Dict[str, Dict[str, float]]:
        """The metrics of the exact posterior on the test set: its mean (the Wiener filter, the lowest reconstruction
        MSE any method can reach in expectation) and one sample per observation (what a perfect posterior sampler
        scores)."""
        results = {'posterior-mean': {}, 'posterior-sample': {}}
        math.seed(seed)
        for suffix, clean in (('', False), ('_clean', True)):
            mean, variance = self.posterior(clean)
            results['posterior-mean'].update(self._scores(mean, self.test_initial, suffix))
            results['posterior-sample'].update(self._scores(stochastic_heat.posterior_sample(mean, variance), self.test_initial, suffix))
        return results
