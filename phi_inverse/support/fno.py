"""The 2-D Fourier neural operator of Li et al. (FNO-2D) for PyTorch, JAX and TensorFlow, trainable through `phiml.nn`.

    v₀ = P(a),   v_{l+1} = σ(K_l v_l + W_l v_l),   u = Q₂ σ(Q₁ v_L),

with a pointwise lift `P: in → width`, Fourier layers whose kernel `K_l` multiplies the lowest `modes × modes`
Fourier coefficients of both signs of `k_x` (and non-negative `k_y`, real FFT) by learned complex
`width × width` matrices, pointwise `W_l`, GELU `σ` (not after the last layer) and the projection
`Q₁: width → projection`, `Q₂: projection → out`. With 3 inputs, 1 output, width 20, 12 modes, 4 layers and a
128-wide projection it has 465,377 parameters, complex weights counted once, the count of the SMDP paper's
table 2: `80 + 4·(2·20·20·12·12 + 420) + 2688 + 129`.

The network takes the native layout `math.native_call` passes on its backend: channels first on PyTorch
(an `nn.Module`), channels last on JAX (a stax `(init, apply)` pair in a `StaxNet`) and TensorFlow (a Keras
`Model`), spectral weights stored as real and imaginary parts on the last two. On grids smaller than `2·modes` the
available modes are used. `periodic=False` zero-pads the lifted field by `PADDING` cells before the Fourier layers,
as Li et al. do for non-periodic data.

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021;
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, appendix B.
"""
import warnings

from .checks import require_trainable_backend

PADDING = 9


def fno(in_channels: int, out_channels: int, modes: int = 12, width: int = 20, layers: int = 4, projection: int = 128,
        periodic: bool = True):
    """A 2-D FNO for the default backend (PyTorch, JAX or TensorFlow); see the module docstring."""
    sizes = dict(in_channels=in_channels, out_channels=out_channels, modes=modes, width=width, layers=layers,
                 projection=projection)
    if any(not isinstance(v, int) or v < 1 for v in sizes.values()):
        raise ValueError(f"fno() needs positive integer sizes but got {sizes}.")
    backend = require_trainable_backend().name
    if backend == 'torch':
        return _TorchFNO(in_channels, out_channels, modes, width, layers, projection, periodic)
    if backend == 'tensorflow':
        from .fno_keras import keras_fno
        return keras_fno(in_channels, out_channels, modes, width, layers, projection, periodic)
    if backend == 'jax':
        from phiml.backend.jax.stax_nets import StaxNet
        net = StaxNet(*_stax_fno(out_channels, modes, width, layers, projection, periodic), (-1, 2 * modes, 2 * modes, in_channels))
        net.initialize()
        return net
    raise NotImplementedError(f"fno() supports PyTorch, JAX and TensorFlow, not {backend}.")


def stacked(*nets):
    """One network running `nets` on the same input and concatenating their outputs along the channels.

    Use it to train several networks with one optimizer (e.g. a surrogate and a correction trained together).
    The stacked network starts from the parts' parameters (e.g. a part built with `networks.zero_output`); on JAX
    the parts must be `StaxNet`s.
    """
    backend = require_trainable_backend().name
    if backend == 'torch':
        return _TorchStacked(nets)
    if backend != 'jax':
        raise NotImplementedError(f"stacked() supports PyTorch and JAX, not {backend}.")
    from jax.example_libraries import stax
    from phiml.backend.jax.stax_nets import StaxNet
    parts = [(n._initialize, n._apply) for n in nets]
    net = StaxNet(*stax.serial(stax.FanOut(len(nets)), stax.parallel(*parts), stax.FanInConcat(-1)), nets[-1]._input_shape)
    net.parameters = [(), tuple(n.parameters for n in nets), ()]
    return net


def parameter_count(net) -> int:
    """Trainable parameters of `net`, each complex weight counted once (as PyTorch counts them)."""
    if hasattr(net, 'parameters') and callable(net.parameters):
        return sum(p.numel() for p in net.parameters())
    if hasattr(net, 'trainable_variables'):
        leaves = [v.numpy() for v in net.trainable_variables]
    else:
        import jax
        leaves = jax.tree_util.tree_leaves(net.parameters)
    return sum(leaf.size // 2 if getattr(leaf, 'ndim', 0) == 6 and leaf.shape[-1] == 2 else leaf.size for leaf in leaves)


def _truncated_modes(modes: int, rows: int, columns: int):
    return min(modes, rows // 2), min(modes, columns // 2 + 1)


def _torch_module():
    import torch
    from phiml.backend.torch._torch_backend import register_module_call
    from torch import nn

    class SpectralConv(nn.Module):
        def __init__(self, channels: int, modes: int):
            super().__init__()
            self.modes = modes
            scale = 1 / (channels * channels)
            self.weights = nn.Parameter(scale * torch.rand(2, channels, channels, modes, modes, dtype=torch.cfloat))

        def forward(self, x):
            rows, columns = x.shape[-2:]
            with warnings.catch_warnings():  # PhiML traces once per input shape, so the modes are constants
                warnings.simplefilter('ignore', torch.jit.TracerWarning)
                m1, m2 = _truncated_modes(self.modes, rows, columns)
            x_ft = torch.fft.rfft2(x)
            out = torch.zeros(x.shape[0], self.weights.shape[2], rows, columns // 2 + 1, dtype=torch.cfloat, device=x.device)
            out[:, :, :m1, :m2] = torch.einsum('bixy,ioxy->boxy', x_ft[:, :, :m1, :m2], self.weights[0, :, :, :m1, :m2])
            out[:, :, rows - m1:, :m2] = torch.einsum('bixy,ioxy->boxy', x_ft[:, :, rows - m1:, :m2], self.weights[1, :, :, :m1, :m2])
            return torch.fft.irfft2(out, s=(rows, columns))
    return torch, nn, SpectralConv, register_module_call


class _Lazy:
    """Defers the PyTorch class definitions until PyTorch is the backend."""
    classes = None

    @classmethod
    def get(cls):
        if cls.classes is None:
            torch, nn, spectral_conv, register_module_call = _torch_module()

            class TorchFNO(nn.Module):
                def __init__(self, in_channels, out_channels, modes, width, layers, projection, periodic):
                    super().__init__()
                    self.padding = 0 if periodic else PADDING
                    self.lift = nn.Conv2d(in_channels, width, 1)
                    self.spectral = nn.ModuleList([spectral_conv(width, modes) for _ in range(layers)])
                    self.pointwise = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(layers)])
                    self.project = nn.Conv2d(width, projection, 1)
                    self.out = nn.Conv2d(projection, out_channels, 1)

                def forward(self, x):
                    register_module_call(self)  # lets PhiML's torch.jit trace treat the weights as parameters
                    x = self.lift(x)
                    if self.padding:
                        x = nn.functional.pad(x, [0, self.padding, 0, self.padding])
                    for i, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
                        x = spectral(x) + pointwise(x)
                        if i < len(self.spectral) - 1:
                            x = nn.functional.gelu(x)
                    if self.padding:
                        x = x[..., :-self.padding, :-self.padding]
                    return self.out(nn.functional.gelu(self.project(x)))

            class TorchStacked(nn.Module):
                def __init__(self, nets):
                    super().__init__()
                    self.parts = nn.ModuleList(nets)

                def forward(self, x):
                    register_module_call(self)
                    return torch.cat([part(x) for part in self.parts], 1)
            cls.classes = TorchFNO, TorchStacked
        return cls.classes


def _TorchFNO(*args):
    return _Lazy.get()[0](*args)


def _TorchStacked(nets):
    return _Lazy.get()[1](nets)


def _stax_spectral(modes: int):
    import jax.numpy as jnp
    from jax import random

    def init(rng, input_shape):
        channels = input_shape[-1]
        weights = random.uniform(rng, (2, channels, channels, modes, modes, 2)) / (channels * channels)
        return input_shape, weights

    def apply(weights, x, **kwargs):
        rows, columns = x.shape[1:3]
        m1, m2 = _truncated_modes(modes, rows, columns)
        complex_weights = weights[..., 0] + 1j * weights[..., 1]
        x_ft = jnp.fft.rfft2(x, axes=(1, 2))
        out = jnp.zeros(x_ft.shape[:3] + (weights.shape[2],), x_ft.dtype)
        out = out.at[:, :m1, :m2].set(jnp.einsum('bxyi,ioxy->bxyo', x_ft[:, :m1, :m2], complex_weights[0, :, :, :m1, :m2]))
        out = out.at[:, rows - m1:, :m2].set(jnp.einsum('bxyi,ioxy->bxyo', x_ft[:, rows - m1:, :m2], complex_weights[1, :, :, :m1, :m2]))
        return jnp.fft.irfft2(out, s=(rows, columns), axes=(1, 2)).astype(x.dtype)
    return init, apply


def _stax_padding(padding: int, crop: bool):
    import jax.numpy as jnp

    def init(rng, input_shape):
        return input_shape, ()

    def apply(params, x, **kwargs):
        if crop:
            return x[:, :-padding, :-padding]
        return jnp.pad(x, ((0, 0), (0, padding), (0, padding), (0, 0)))
    return init, apply


def _stax_fno(out_channels: int, modes: int, width: int, layers: int, projection: int, periodic: bool):
    import jax
    from jax.example_libraries import stax
    gelu = stax.elementwise(jax.nn.gelu, approximate=False)  # exact, as PyTorch's default
    blocks = [stax.Dense(width)]
    if not periodic:
        blocks.append(_stax_padding(PADDING, crop=False))
    for i in range(layers):
        blocks += [stax.FanOut(2), stax.parallel(_stax_spectral(modes), stax.Dense(width)), stax.FanInSum]
        if i < layers - 1:
            blocks.append(gelu)
    if not periodic:
        blocks.append(_stax_padding(PADDING, crop=True))
    blocks += [stax.Dense(projection), gelu, stax.Dense(out_channels)]
    return stax.serial(*blocks)

