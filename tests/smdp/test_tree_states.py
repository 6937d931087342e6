"""SMDP's losses and samplers on a state that is a dataclass of Fields (marker and staggered velocity)."""
from phi import math
from phi.math import batch

from phi_inverse import smdp
from phi_inverse.physics import TIME, buoyancy
from phi_inverse.smdp.reverse import map_values, value_leaves


def random_state(seed: int) -> buoyancy.FlowState:
    math.seed(seed)
    state = buoyancy.empty_state(8, batch(examples=2))
    return map_values(lambda values: math.random_normal(values.shape), state)


def test_multi_step_loss_of_a_pair_is_the_sum_over_its_components(backend):
    window = math.stack([random_state(0), random_state(1), random_state(2)], batch(TIME))
    times = math.tensor([0., .1, .2], batch(TIME))

    def shrink(x, t, dt):
        return x * .5

    def loss_of(component):
        part = getattr(window, component)
        return smdp.multi_step_loss(lambda x, t, dt: x * .5, part, times)
    total = smdp.multi_step_loss(smdp.reverse_step(shrink, None), window, times)
    math.assert_close(total, loss_of('smoke') + loss_of('velocity'), rel_tolerance=1e-5)


def test_samplers_keep_the_pair_and_draw_noise_for_every_component(torch_backend):
    x_end = random_state(3)
    times = math.tensor([0., .01, .02], batch(TIME))
    math.seed(0)
    trajectory = smdp.sample(x_end, times, smdp.reverse_sde(smdp.no_physics, None, 1.), trajectory=True, samples=3)
    assert isinstance(trajectory, buoyancy.FlowState)
    assert trajectory.smoke.shape.get_size(TIME) == 3 and trajectory.velocity.shape.get_size('sample') == 3
    for start, end in zip(value_leaves(trajectory[{TIME: 0}]), value_leaves(trajectory[{TIME: -1}])):
        parts = [start - end] if start.shape.is_uniform else [(start - end)[{'~vector': d}] for d in 'xy']
        for part in parts:
            assert .1 < float(math.std(part, part.shape)) < .2  # two steps of g·√Δt·z: √0.02 ≈ 0.14


def test_training_noise_reaches_both_components(torch_backend):
    state = buoyancy.empty_state(8, batch(examples=2))
    math.seed(0)
    noisy = smdp.add_training_noise(state, .1)
    assert all(float(math.max(abs(leaf), leaf.shape)) > .1 for leaf in value_leaves(noisy))
