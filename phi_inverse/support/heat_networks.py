"""The periodic encoder–decoder ResNet of the SMDP heat experiment for PyTorch and JAX, trainable through `phiml.nn`.

With `x̃` the input padded periodically by `p` cells on each side, `C_k` a `k × k` convolution ('SAME',
TensorFlow convention: `⌊(k−1)/2⌋` cells before, the rest after), `T_k` a stride-1 transposed convolution
('SAME', mirrored offsets) and `σ` the leaky ReLU (slope 0.01),

    e₀ = C_k(x̃),       e_b = e_{b−1} + σ(C_k σ(C_k e_{b−1})),            b = 1…B,
    d₀ = T_k C₁(e_B),  d_b = d_{b−1} + σ(T_k σ(T_k d_{b−1})),            b = 1…B,
    u  = crop_p C₅(d_B),

where `C₁` is the 1-channel bottleneck. All hidden layers have `width` channels. With 2 inputs (field and time),
1 output, width 32, 5 blocks and kernel 4 it has 330,754 parameters, the count of the SMDP paper's table 2:
`(16·2·32 + 32) + 10·(16·32·32 + 32) + 33 + (16·32 + 32) + 10·(16·32·32 + 32) + (25·32 + 1)`.

The authors' code (`heat-diffusion/models/ModelLoader.py`) computes decoder block 3 as `d₃ = e₃ + d₂`: it
overwrites the output of that block's two transposed convolutions with the encoder skip, so they are evaluated
and discarded. `encoder_skip=True` (default) reproduces this: the block's parameters exist (they are in the
330,754) but receive no gradient. `encoder_skip=False` computes `d₃` like the other blocks. The authors'
decoder also applies element-wise dropout after decoder blocks 1–4 (the default rate 0.5, which their SMDP trainer
keeps, with the fixed key `PRNGKey(0)` of its correction term: one frozen random mask); it is left out here.

The padding (authors: tiling, here wrapping, which equals tiling for `p ≤` resolution) is periodic, the
convolutions inside zero-pad the padded field, so the output is exactly periodic (shift-equivariant) only if
`p ≥ periodic_padding(blocks, kernel) = (2B+1)(k−1) + 2`, the one-sided receptive field. The authors' 16 cells
are less than the 35 of their configuration: their network is periodic up to the edge effects that reach the
centre.

Weights are initialised as Haiku does (truncated normal within ±2σ, `σ = 1/√(k·k·c_in)`, zero biases). The
network takes the native layout of `math.native_call` on its backend: channels first on PyTorch (an
`nn.Module`), channels last on JAX (a stax `(init, apply)` pair in a `StaxNet`).

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    appendix (heat equation) and table 2.
"""
import functools

import numpy as np

from .checks import require_trainable_backend

OUTPUT_KERNEL = 5
NEGATIVE_SLOPE = .01
SKIP_BLOCK = 3  # the authors' decoder block that adds the encoder skip


def encoder_decoder(in_channels: int, out_channels: int, width: int = 32, blocks: int = 5, kernel: int = 4,
                    padding: int = 16, encoder_skip: bool = True):
    """The encoder–decoder ResNet of the module docstring for the default backend (PyTorch or JAX).

    Args:
        in_channels: Input channels (the heat experiment: field and time, 2).
        out_channels: Output channels.
        width: Channels of every hidden layer.
        blocks: Residual blocks of the encoder, and of the decoder.
        kernel: Kernel size of the hidden (transposed) convolutions.
        padding: Periodic padding on each side, cropped at the end.
        encoder_skip: Decoder block 3 returns `e₃ + d₂` as in the authors' code (no effect for `blocks < 3`).
    """
    backend = require_trainable_backend().name
    skip = encoder_skip and blocks >= SKIP_BLOCK
    if backend == 'torch':
        return _torch_class()(in_channels, out_channels, width, blocks, kernel, padding, skip)
    if backend == 'jax':
        from phiml.backend.jax.stax_nets import StaxNet
        net = StaxNet(*_stax_encoder_decoder(out_channels, width, blocks, kernel, padding, skip), (-1, 8, 8, in_channels))
        net.initialize()
        return net
    raise NotImplementedError(f"encoder_decoder() supports PyTorch and JAX, not {backend}.")


def periodic_padding(blocks: int, kernel: int) -> int:
    """The smallest padding for which `encoder_decoder(…, blocks, kernel)` is exactly periodic: `(2B+1)(k−1) + 2`."""
    return (2 * blocks + 1) * (kernel - 1) + (OUTPUT_KERNEL - 1) // 2


def haiku_stddev(shape_without_output: tuple) -> float:
    """Haiku's default weight scale `1/√fan_in`, `fan_in` the product of kernel shape and input channels."""
    fan_in = 1
    for size in shape_without_output:
        fan_in *= size
    return fan_in ** -.5


def torch_periodic_pad(x, padding: int):
    """Pads the last two axes of the PyTorch tensor `x` periodically by `padding` cells on each side."""
    import torch
    for axis in (-2, -1):
        size = x.shape[axis]
        x = torch.index_select(x, axis, torch.arange(-padding, size + padding, device=x.device) % size)
    return x


def jax_periodic_pad(x, padding: int):
    """Pads the spatial axes of the channels-last JAX array `x` periodically by `padding` cells on each side."""
    import jax.numpy as jnp
    return jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode='wrap')


def stax_haiku_init(rng, shape):
    """Haiku's default weight initialisation for a stax (transposed) convolution kernel of shape `(k, k, c_in, c_out)`.

    Drawn by NumPy from the JAX key `rng`: eagerly, JAX would compile the draw of every new shape on its own.
    """
    import jax
    import jax.numpy as jnp
    generator = np.random.default_rng(np.asarray(jax.random.key_data(rng)))
    values = generator.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = generator.standard_normal(outside.sum())
        outside = np.abs(values) > 2
    return jnp.asarray(haiku_stddev(shape[:-1]) * values, jnp.float32)


def stax_zeros(rng, shape):
    import jax.numpy as jnp
    return jnp.asarray(np.zeros(shape, np.float32))


@functools.lru_cache(maxsize=None)
def _torch_class():
    import torch
    from phiml.backend.torch._torch_backend import register_module_call
    from torch import nn

    def haiku_init(layer, fan_in: int):
        std = fan_in ** -.5
        nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(layer.bias)
        return layer

    class SameConv(nn.Module):
        """Convolution with TensorFlow's 'SAME' offsets: `⌊(k−1)/2⌋` cells before, the rest after."""
        def __init__(self, c_in, c_out, k):
            super().__init__()
            before = (k - 1) // 2
            self.padding = [before, k - 1 - before] * 2
            self.layer = haiku_init(nn.Conv2d(c_in, c_out, k), c_in * k * k)

        def forward(self, x):
            return self.layer(nn.functional.pad(x, self.padding))
    conv = SameConv

    class SameTransposedConv(nn.Module):
        """Stride-1 transposed convolution with the offsets of `lax.conv_transpose(…, 'SAME')`: `⌈(k−1)/2⌉` before."""
        def __init__(self, c_in, c_out, k):
            super().__init__()
            self.layer = haiku_init(nn.ConvTranspose2d(c_in, c_out, k, padding=(k - 1) // 2), c_in * k * k)

        def forward(self, x):
            rows, columns = x.shape[-2:]
            return self.layer(x)[..., :rows, :columns]

    def pair(layer, k, width):
        return nn.ModuleList([layer(width, width, k), layer(width, width, k)])

    def residual(pair_, x):
        activate = nn.functional.leaky_relu
        return x + activate(pair_[1](activate(pair_[0](x), NEGATIVE_SLOPE)), NEGATIVE_SLOPE)

    class TorchEncoderDecoder(nn.Module):
        def __init__(self, in_channels, out_channels, width, blocks, kernel, padding, skip):
            super().__init__()
            self.padding, self.skip = padding, skip
            self.lift = conv(in_channels, width, kernel)
            self.encoder = nn.ModuleList([pair(conv, kernel, width) for _ in range(blocks)])
            self.bottleneck = conv(width, 1, 1)
            self.expand = SameTransposedConv(1, width, kernel)
            self.decoder = nn.ModuleList([pair(SameTransposedConv, kernel, width) for _ in range(blocks)])
            self.out = conv(width, out_channels, OUTPUT_KERNEL)

        def forward(self, x):
            register_module_call(self)  # lets PhiML's torch.jit trace treat the weights as parameters
            rows, columns = x.shape[-2:]
            x = self.lift(torch_periodic_pad(x, self.padding))
            encoded = []
            for block in self.encoder:
                x = residual(block, x)
                encoded.append(x)
            x = self.expand(self.bottleneck(x))
            for b, block in enumerate(self.decoder, 1):
                x = encoded[b - 1] + x if self.skip and b == SKIP_BLOCK else residual(block, x)
            x = self.out(x)
            return x[..., self.padding:self.padding + rows, self.padding:self.padding + columns]
    return TorchEncoderDecoder


def _stax_encoder_decoder(out_channels: int, width: int, blocks: int, kernel: int, padding: int, skip: bool):
    import jax
    from jax.example_libraries import stax

    def conv(channels, k, transposed=False):
        layer = stax.ConvTranspose if transposed else stax.Conv
        return layer(channels, (k, k), padding='SAME', W_init=stax_haiku_init, b_init=stax_zeros)

    def pair(transposed):
        return [conv(width, kernel, transposed), conv(width, kernel, transposed)]
    layers = [conv(width, kernel), [pair(False) for _ in range(blocks)], conv(1, 1), conv(width, kernel, True),
              [pair(True) for _ in range(blocks)], conv(out_channels, OUTPUT_KERNEL)]
    flat, tree = jax.tree_util.tree_flatten(layers, is_leaf=lambda node: isinstance(node, tuple))

    def init(rng, input_shape):
        params, shape = [], input_shape
        for layer_init, _ in flat:
            rng, key = jax.random.split(rng)
            shape, layer_params = layer_init(key, shape)
            params.append(layer_params)
        return shape, params

    def apply(params, x, **kwargs):
        lift, encoder, bottleneck, expand, decoder, out = jax.tree_util.tree_unflatten(tree, [
            functools.partial(layer[1], p) for layer, p in zip(flat, params)])

        def residual(pair_, h):
            return h + jax.nn.leaky_relu(pair_[1](jax.nn.leaky_relu(pair_[0](h), NEGATIVE_SLOPE)), NEGATIVE_SLOPE)
        rows, columns = x.shape[1:3]
        h = lift(jax_periodic_pad(x, padding))
        encoded = []
        for block in encoder:
            h = residual(block, h)
            encoded.append(h)
        h = expand(bottleneck(h))
        for b, block in enumerate(decoder, 1):
            h = encoded[b - 1] + h if skip and b == SKIP_BLOCK else residual(block, h)
        return out(h)[:, padding:padding + rows, padding:padding + columns]
    return init, jax.jit(apply)  # compiled once per shape also when called eagerly
