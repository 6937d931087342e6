"""The SMDP multi-step training step of the stochastic heat scene written without PhiML, in plain PyTorch and plain JAX.

For a window `x_0 … x_{S−1}` at times `t_0 … t_{S−1}` the loss starts at `x̂_{S−1} = x_{S−1}` and runs back,

    x̂_{j−1} = 2x̂_j − P_{Δt_j}(x̂_j) + Δt_j·s_θ(x̂_j, t_j),    Δt_j = t_j − t_{j−1},
    L = mean over examples of Σ_j ‖x̂_{j−1} − x_{j−1}‖²,

with the exact heat step `P_Δt(x) = F⁻¹(exp(−α|k|²Δt)·F(x))` (angular wavenumbers `k` of the scene's periodic box,
integers on the 2π box) and `s_θ(x, t) = NN([x, t/T])/Δt_nominal` (SMDP paper, equations 2, 4 and 5). The network is
the scene's own: a `torch.nn.Module` on PyTorch (channels first), a stax apply function on JAX (channels last).
Windows are native arrays `(examples, time, x, y)`, their times `(time,)`.
"""
import numpy as np

from phi_inverse.physics import stochastic_heat


def squared_wavenumbers(scene) -> np.ndarray:
    """`|k|²` of the FFT frequencies of the scene's grid, `(x, y)`, from its domain size and resolution."""
    n = scene.resolution
    axes = [2 * np.pi * np.fft.fftfreq(n, d=float(size) / n) for size in stochastic_heat.DOMAIN.size.numpy()]
    return (axes[0][:, None] ** 2 + axes[1][None, :] ** 2).astype(np.float32)


def torch_loss(scene, net):
    """`loss(window, times) -> L` in PyTorch for the scene's correction network `net`."""
    import torch
    k2 = torch.as_tensor(squared_wavenumbers(scene))
    diffusivity, end_time, nominal_dt = stochastic_heat.DIFFUSIVITY, scene.end_time, scene.dt

    def heat_step(x, dt):
        return torch.fft.ifft2(torch.fft.fft2(x) * torch.exp(-diffusivity * dt * k2)).real

    def loss(window, times):
        x = window[:, -1]
        total = 0
        for j in range(window.shape[1] - 1, 0, -1):
            dt = times[j] - times[j - 1]
            features = torch.stack([x, torch.ones_like(x) * (times[j] / end_time)], 1)
            x = 2 * x - heat_step(x, dt) + dt * net(features)[:, 0] / nominal_dt
            total = total + ((x - window[:, j - 1]) ** 2).sum((1, 2))
        return total.mean()
    return loss


def torch_update(scene, net, learning_rate):
    """`update(window, times) -> L`: the loss traced with `torch.jit.trace` (as PhiML's `jit_compile` does on
    PyTorch), backpropagated, and one `torch.optim.Adam` step whose learning rate is `learning_rate(step)`."""
    import torch
    loss = torch_loss(scene, net)

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, window, times):
            return loss(window, times)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(learning_rate(0)), betas=(.9, .999), eps=1e-7)
    traced = []
    steps_done = [0]

    def update(window, times):
        if not traced:
            traced.append(torch.jit.trace(Loss(), (window, times), check_trace=False))
        for group in optimizer.param_groups:
            group['lr'] = float(learning_rate(steps_done[0]))
        optimizer.zero_grad()
        value = traced[0](window, times)
        value.backward()
        optimizer.step()
        steps_done[0] += 1
        return value.detach()
    return update


def jax_loss(scene, apply):
    """`loss(parameters, window, times) -> L` in JAX for the stax apply function `apply(parameters, x)`."""
    import jax.numpy as jnp
    k2 = jnp.asarray(squared_wavenumbers(scene))
    diffusivity, end_time, nominal_dt = stochastic_heat.DIFFUSIVITY, scene.end_time, scene.dt

    def heat_step(x, dt):
        return jnp.fft.ifft2(jnp.fft.fft2(x) * jnp.exp(-diffusivity * dt * k2)).real

    def loss(parameters, window, times):
        x = window[:, -1]
        total = 0
        for j in range(window.shape[1] - 1, 0, -1):
            dt = times[j] - times[j - 1]
            features = jnp.stack([x, jnp.ones_like(x) * (times[j] / end_time)], -1)
            x = 2 * x - heat_step(x, dt) + dt * apply(parameters, features)[..., 0] / nominal_dt
            total = total + jnp.sum((x - window[:, j - 1]) ** 2, axis=(1, 2))
        return jnp.mean(total)
    return loss


def jax_update(scene, apply, parameters, learning_rate):
    """`update(window, times) -> L`: loss, gradient and a `jax.example_libraries` Adam step with learning rate
    `learning_rate(step)`, all in one `jax.jit` (as PhiML compiles the whole update on JAX)."""
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import optimizers
    loss = jax_loss(scene, apply)
    initialize, apply_update, get_parameters = optimizers.adam(learning_rate, .9, .999, 1e-7)

    @jax.jit
    def compiled(state, step, window, times):
        value, gradients = jax.value_and_grad(loss)(get_parameters(state), window, times)
        return apply_update(step, gradients, state), value
    state = [initialize(parameters)]
    steps_done = [0]

    def update(window, times):
        state[0], value = compiled(state[0], jnp.asarray(steps_done[0]), window, times)
        steps_done[0] += 1
        return value
    return update
