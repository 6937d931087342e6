"""The pseudo-spectral vorticity solver against exact solutions, conservation laws and its own time step."""
import numpy as np
import pytest
from phi import math
from phi.math import batch

from phi_inverse.physics import vorticity
from phi_inverse.physics.vorticity import DOMAIN, grid

TWO_PI = 2 * np.pi


def taylor_green(resolution: int = 16, amplitude: float = .01):
    """`ψ = a·sin 2πx·sin 2πy`, `ω = −Δψ = 8π²ψ`: a steady Euler flow whose vorticity decays as `exp(−8π²νt)`.

    The flow is an unstable equilibrium; a small amplitude `a` keeps round-off perturbations from growing within `t = 1`."""
    cells = vorticity.li_forcing(grid(math.zeros(math.spatial(x=resolution, y=resolution)))).points
    x, y = cells.vector['x'], cells.vector['y']
    psi = amplitude * math.sin(TWO_PI * x) * math.sin(TWO_PI * y)
    u = amplitude * TWO_PI * math.sin(TWO_PI * x) * math.cos(TWO_PI * y)
    v = -amplitude * TWO_PI * math.cos(TWO_PI * x) * math.sin(TWO_PI * y)
    return grid(2 * TWO_PI ** 2 * psi), (u, v)


def test_velocity_is_the_curl_of_the_stream_function(backend):
    omega, (u, v) = taylor_green()
    velocity = vorticity.velocity(omega).values
    math.assert_close(velocity.vector['x'], u, abs_tolerance=1e-6)
    math.assert_close(velocity.vector['y'], v, abs_tolerance=1e-6)


def test_taylor_green_mode_decays_exactly(backend):
    """`ω(t) = ω(0)·exp(−2ν|k|²t)` with `|k| = 2π` per direction; advection vanishes on this mode."""
    omega, _ = taylor_green()
    nu, end = 1e-2, 1.
    final = vorticity.simulate(omega, end_time=end, record_interval=end, viscosity=nu, dt=.02).time[-1]
    exact = omega.values * np.exp(-2 * nu * TWO_PI ** 2 * end)
    error = float(math.max(abs(final.values - exact), final.values.shape)) / float(math.max(abs(exact), exact.shape))
    assert error < 1e-4


def test_mean_vorticity_is_conserved_under_forcing(backend):
    math.seed(0)
    omega = vorticity.gaussian_random_field(batch(examples=2), 16)
    trajectory = vorticity.simulate(omega, end_time=2., forcing=vorticity.li_forcing(omega))
    means = math.mean(trajectory.values, 'x,y')
    assert float(math.max(abs(means), means.shape)) < 1e-5


def band_limited(omega, keep: float = 1 / 3):
    """`omega` without the Fourier modes beyond `keep·n` per direction (those the 2/3 rule removes from `u·∇ω`)."""
    values = omega.values.numpy('examples,x,y')
    n = values.shape[-1]
    k = np.abs(np.fft.fftfreq(n, 1 / n))
    mask = (k[:, None] <= keep * n) & (k[None, :] <= keep * n)
    return grid(math.tensor(np.real(np.fft.ifft2(np.fft.fft2(values) * mask)).astype(np.float32), batch('examples'), math.spatial('x,y')))


def test_inviscid_unforced_flow_conserves_energy_and_enstrophy():
    """The dealiased (Galerkin-truncated) nonlinear term conserves both; Heun's time error stays small."""
    with math.NUMPY:
        math.seed(1)
        omega = band_limited(vorticity.gaussian_random_field(batch(examples=2), 16) * 10)
        final = vorticity.simulate(omega, end_time=1., record_interval=1., viscosity=0.).time[-1]
        for quantity in (vorticity.energy, vorticity.enstrophy):
            math.assert_close(quantity(final), quantity(omega), rel_tolerance=2e-3)
        assert float(math.max(abs(final.values - omega.values), omega.values.shape)) > .1  # the flow did evolve


def test_halving_the_cfl_time_step_changes_recorded_states_little():
    """At the CFL step (C = 0.25) halving it moves the recorded states by < 1 % of max |ω|, and the change shrinks
    about fourfold with the next halving (second order in time)."""
    with math.NUMPY:
        math.seed(2)
        omega = vorticity.gaussian_random_field(batch(examples=2), 16)
        forcing = vorticity.li_forcing(omega)
        dt = vorticity.cfl_time_step(omega)
        states = [vorticity.simulate(omega, end_time=3., forcing=forcing, dt=dt / 2 ** i).values for i in range(3)]
        changes = [float(math.max(abs(a - b), a.shape)) for a, b in zip(states, states[1:])]
        magnitude = float(math.max(abs(states[-1]), states[-1].shape))
        assert changes[0] < 1e-2 * magnitude
        assert changes[0] / changes[1] > 3
        assert float(math.max(abs(states[0].time[-1] - omega.values), omega.values.shape)) > .1 * magnitude


def test_initial_field_has_the_variance_of_its_spectrum():
    """Per-cell variance `Σ_{k≠0} 2τ^{2(α−1)}(4π²|k|² + τ²)^{−α}` of Li et al.'s Gaussian measure."""
    k = np.fft.fftfreq(16, 1 / 16)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    terms = 2 * 7. ** 3 * (4 * np.pi ** 2 * k2 + 49) ** -2.5
    expected = terms.sum() - terms[0, 0]
    with math.NUMPY:
        math.seed(3)
        values = vorticity.gaussian_random_field(batch(examples=400), 16).values
        assert float(math.mean(values ** 2, values.shape)) == pytest.approx(expected, rel=.05)
        assert float(math.max(abs(math.mean(values, 'x,y')), 'examples')) < 1e-5
