"""SMDP, score matching via differentiable physics (Holzschuh, Vegetti, Thuerey, NeurIPS 2023).

Three layers, each using only the one below:

* `reverse`: the reverse simulator, `P̃⁻¹` plus the learned correction `s_θ(x, t)`, as one reverse step;
* `losses`: the 1-step and multi-step (sliding window) losses, window curriculum, time jitter, training noise, and
  what each loss makes `s_θ` learn (`ONE_STEP`, `MULTI_STEP`, `ISM`);
* `samplers`: reverse-time SDE and probability-flow ODE, whose correction factors follow from the training loss
  (`trained_with=`), Langevin corrector, batched posterior sampling.

`metrics` holds the paper's evaluation metrics (posterior Q, reconstruction MSE, spectral error).
"""
from .reverse import reverse_step, euler, heun, negated_increment, no_physics
from .losses import one_step_loss, multi_step_loss, WindowCurriculum, jitter_times, add_training_noise, TrainingLoss, ONE_STEP, MULTI_STEP, ISM
from .samplers import reverse_sde, probability_flow, langevin, score_of, sample
from .score_matching import implicit_score_matching, sliced_score_matching, divergence, directional_derivative, default_derivative
