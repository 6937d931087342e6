"""A periodic U-net with Monte-Carlo spatial dropout, the Bayesian baseline of the SMDP heat experiment, for PyTorch and JAX.

With `C` a periodic `k × k` convolution, `σ` the leaky ReLU (slope 0.01), `D` spatial dropout, `P` 2 × 2 max
pooling, `T` a 2 × 2 transposed convolution of stride 2 and `c_l = filters·(l+1)` channels on level `l`,

    down l = 0…L−1:  s_l = D σ C D σ C(h),  h = P(s_l)
    bottom:          h = D σ C D σ C(h)                       (c_L channels)
    up l = L−1…0:    h = D σ C D σ C([s_l, T(h)])
    output:          u = C₁(h)                                (1 × 1)

Spatial dropout (Tompson et al. 2015) zeroes whole channels of one example, `D(h)_{b,c} = h_{b,c}·m_{b,c}/(1−p)`
with `m_{b,c} ~ Bernoulli(1−p)`, and stays active at inference, so that repeated calls sample the approximate
posterior of Gal & Ghahramani (2016). The convolutions wrap around, so the network is exactly periodic: shifting
the input by a multiple of `2^L` cells shifts the output. Each resolution must be a multiple of `2^L`.

Where the masks come from. The network takes an optional second input `noise`, uniform on [0, 1) with shape
`(batch, mask_channels)`, and keeps channel `c` of an example where `noise ≥ p`; `dropout_noise()` draws it as a
`Tensor` for `math.native_call(net, x, noise)`. A function that calls the network inside a `math.jit_compile`
trace on JAX must take the noise as an argument: a random key read inside the trace would be a constant of the
trace and freeze the masks, and the JAX network raises a `ValueError` instead of doing so. Without `noise` the
network draws it itself: on PyTorch with `torch.rand`, which a `torch.jit` trace records as an operation and
re-runs on every call, on JAX eagerly from PhiML's key (`math.seed` makes both reproducible). Passing the noise
explicitly is the one form that behaves alike on both backends, compiled or not. `dropout=0` ignores `noise`.

The authors' baseline (`heat-diffusion/models/UNet.py`) pads by tiling 16 cells, pools 6 times, has no activation
functions between its convolutions and drops after every layer; here the convolutions are periodic, activated and
the number of levels is a parameter.

References:
    Gal, Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016;
    Tompson et al., "Efficient Object Localization Using Convolutional Networks", CVPR 2015;
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, appendix.
"""
import functools
import itertools

from phi import math
from phi.math import Shape, Tensor, channel

from .checks import require_trainable_backend
from .heat_networks import NEGATIVE_SLOPE, jax_periodic_pad, stax_haiku_init, stax_zeros, torch_periodic_pad


def dropout_u_net(in_channels: int, out_channels: int, filters: int = 16, levels: int = 3, dropout: float = .1,
                  kernel: int = 3):
    """The Monte-Carlo dropout U-net of the module docstring for the default backend (PyTorch or JAX).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        filters: Channels of the finest level; level `l` has `filters·(l+1)`.
        levels: Poolings; resolutions must be multiples of `2^levels`.
        dropout: Probability `p` of dropping a channel of an example, at training and inference.
        kernel: Odd kernel size of the periodic convolutions.
    """
    if not 0 <= dropout < 1 or kernel % 2 == 0:
        raise ValueError(f"dropout must lie in [0, 1) and kernel be odd, got dropout={dropout}, kernel={kernel}.")
    channels = _channels(filters, levels)
    backend = require_trainable_backend().name
    if backend == 'torch':
        net = _torch_class()(in_channels, out_channels, channels, dropout, kernel)
    elif backend == 'jax':
        net = _stax_class()(*_stax_u_net(out_channels, channels, dropout, kernel), (-1, 8, 8, in_channels))
        net.initialize()
    else:
        raise NotImplementedError(f"dropout_u_net() supports PyTorch and JAX, not {backend}.")
    net.dropout, net.mask_channels = dropout, mask_channels(channels)
    return net


def dropout_noise(net, batch_shape: Shape) -> Tensor:
    """Uniform noise on [0, 1) that fixes the dropout masks of `net` for a batch: `math.native_call(net, x, noise)`.

    `batch_shape` must hold all batch dimensions of `x`, so that every example gets its own masks.
    """
    return math.random_uniform(batch_shape, channel(mask=net.mask_channels))


def masks_per_example(filters: int, levels: int) -> int:
    """`net.mask_channels` of `dropout_u_net(…, filters, levels)`, to draw its noise before building it."""
    return mask_channels(_channels(filters, levels))


def _channels(filters: int, levels: int) -> tuple:
    return tuple(filters * (level + 1) for level in range(levels + 1))


def mask_channels(channels: tuple) -> int:
    """Channels dropped per example: two dropout layers per level down and up, two at the bottom."""
    return 4 * sum(channels[:-1]) + 2 * channels[-1]


def _dropout_sizes(channels: tuple) -> list:
    down = [c for c in channels[:-1] for _ in range(2)]
    return down + [channels[-1]] * 2 + down[::-1]


def _check_resolution(rows: int, columns: int, levels: int):
    if rows % 2 ** levels or columns % 2 ** levels:
        raise ValueError(f"dropout_u_net with {levels} levels needs resolutions that are multiples of {2 ** levels}, got {rows}×{columns}.")


@functools.lru_cache(maxsize=None)
def _torch_class():
    import torch
    from phiml.backend.torch._torch_backend import register_module_call
    from torch import nn

    class PeriodicConv(nn.Module):
        def __init__(self, c_in, c_out, k):
            super().__init__()
            self.layer, self.padding = nn.Conv2d(c_in, c_out, k), k // 2

        def forward(self, x):
            return self.layer(torch_periodic_pad(x, self.padding))

    def pair(c_in, c_out, k):
        return nn.ModuleList([PeriodicConv(c_in, c_out, k), PeriodicConv(c_out, c_out, k)])

    class TorchDropoutUNet(nn.Module):
        def __init__(self, in_channels, out_channels, channels, dropout, kernel):
            super().__init__()
            self.rate, self.sizes = dropout, _dropout_sizes(channels)
            levels = len(channels) - 1
            self.down = nn.ModuleList([pair(([in_channels] + list(channels))[l], channels[l], kernel) for l in range(levels)])
            self.bottom = pair(channels[-2], channels[-1], kernel)
            self.upsample = nn.ModuleList([nn.ConvTranspose2d(channels[l + 1], channels[l], 2, stride=2) for l in range(levels)])
            self.up = nn.ModuleList([pair(2 * channels[l], channels[l], kernel) for l in range(levels)])
            self.out = nn.Conv2d(channels[0], out_channels, 1)

        def forward(self, x, noise=None):
            register_module_call(self)  # lets PhiML's torch.jit trace treat the weights as parameters
            _check_resolution(*x.shape[-2:], len(self.down))
            masks = iter(self.masks(x, noise))

            def block(pair_, h):
                for conv in pair_:
                    h = nn.functional.leaky_relu(conv(h), NEGATIVE_SLOPE)
                    mask = next(masks)
                    h = h if mask is None else h * mask[:, :, None, None]
                return h
            skips = []
            for pair_ in self.down:
                skips.append(block(pair_, x))
                x = nn.functional.max_pool2d(skips[-1], 2)
            x = block(self.bottom, x)
            for level in reversed(range(len(self.down))):
                x = block(self.up[level], torch.cat([skips[level], self.upsample[level](x)], 1))
            return self.out(x)

        def masks(self, x, noise):
            if self.rate == 0:
                return [None] * len(self.sizes)
            if noise is None:
                noise = torch.rand(x.shape[0], sum(self.sizes), device=x.device)
            keep = (noise >= self.rate).to(x.dtype) / (1 - self.rate)
            return torch.split(keep, self.sizes, 1)
    return TorchDropoutUNet


@functools.lru_cache(maxsize=None)
def _stax_class():
    import jax
    from phiml.backend.jax import JAX
    from phiml.backend.jax.stax_nets import StaxNet

    class StaxDropoutNet(StaxNet):
        """A `StaxNet` that draws its dropout noise from PhiML's JAX key when called eagerly without it."""
        dropout, mask_channels = 0., 0

        def __call__(self, x, noise=None):
            if noise is None and self.dropout > 0:
                if isinstance(x, jax.core.Tracer):
                    raise ValueError("Inside a compiled function the dropout masks must come in as an argument: pass "
                                     "`dropout_noise(net, batch_shape)` through it to `math.native_call(net, x, noise)`.")
                JAX.rnd_key, key = jax.random.split(JAX.rnd_key)
                noise = jax.random.uniform(key, (x.shape[0], self.mask_channels))
            return super().__call__(x, noise)
    return StaxDropoutNet


def _stax_u_net(out_channels: int, channels: tuple, dropout: float, kernel: int):
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import stax
    levels, sizes = len(channels) - 1, _dropout_sizes(channels)

    def conv(c, k, strides=None):
        layer = stax.ConvTranspose if strides else stax.Conv
        return layer(c, (k, k), strides, padding='VALID', W_init=stax_haiku_init, b_init=stax_zeros)

    def init(rng, input_shape):
        c_in = ([input_shape[-1]] + list(channels))
        shapes = [(c_in[l], channels[l]) for l in range(levels)] + [(channels[-2], channels[-1])]
        shapes += [(2 * channels[l], channels[l]) for l in range(levels)]
        params = []
        for a, b in shapes:
            rng, k1, k2 = jax.random.split(rng, 3)
            params.append((conv(b, kernel)[0](k1, (1, kernel, kernel, a))[1], conv(b, kernel)[0](k2, (1, kernel, kernel, b))[1]))
        for l in range(levels):
            rng, key = jax.random.split(rng)
            params.append(conv(channels[l], 2, (2, 2))[0](key, (1, 1, 1, channels[l + 1]))[1])
        params.append(conv(out_channels, 1)[0](rng, (1, 1, 1, channels[0]))[1])
        return input_shape[:-1] + (out_channels,), params

    def apply(params, x, noise=None, **kwargs):
        _check_resolution(x.shape[1], x.shape[2], levels)
        pairs, upsample, out = params[:2 * levels + 1], params[2 * levels + 1:-1], params[-1]
        if dropout > 0:
            keep = (noise >= dropout).astype(x.dtype) / (1 - dropout)
            masks = iter(jnp.split(keep, list(itertools.accumulate(sizes[:-1])), axis=1))
        else:
            masks = iter([None] * len(sizes))
        apply_conv = conv(1, kernel)[1]

        def block(pair_params, h):
            for p in pair_params:
                h = jax.nn.leaky_relu(apply_conv(p, jax_periodic_pad(h, kernel // 2)), NEGATIVE_SLOPE)
                mask = next(masks)
                h = h if mask is None else h * mask[:, None, None, :]
            return h
        skips = []
        for l in range(levels):
            skips.append(block(pairs[l], x))
            b, rows, columns, c = skips[-1].shape
            x = skips[-1].reshape(b, rows // 2, 2, columns // 2, 2, c).max(axis=(2, 4))
        x = block(pairs[levels], x)
        for l in reversed(range(levels)):
            x = block(pairs[levels + 1 + l], jnp.concatenate([skips[l], conv(1, 2, (2, 2))[1](upsample[l], x)], -1))
        return conv(1, 1)[1](out, x)
    return init, jax.jit(apply)  # compiled once per shape also when called eagerly
