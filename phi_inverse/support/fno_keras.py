"""The FNO of `phi_inverse.support.fno` as a Keras 3 model for PhiML's TensorFlow backend (channels last).

Layers, initialisation scales and parameter count match the PyTorch and JAX versions; the spectral weights are
stored as real and imaginary parts, `(2, width, width, modes, modes, 2)`, as on JAX.
"""
from .fno import PADDING, _truncated_modes


def keras_fno(in_channels: int, out_channels: int, modes: int, width: int, layers: int, projection: int, periodic: bool):
    """A built Keras FNO taking `(batch, x, y, in_channels)`; see `phi_inverse.support.fno`."""
    import keras
    import tensorflow as tf

    class SpectralConv(keras.layers.Layer):
        def build(self, input_shape):
            channels = input_shape[-1]
            self.spectral_weights = self.add_weight(shape=(2, channels, channels, modes, modes, 2), name='weights',
                                                    initializer=keras.initializers.RandomUniform(0., 1. / (channels * channels)))

        def call(self, x):
            rows, columns = x.shape[1], x.shape[2]
            m1, m2 = _truncated_modes(modes, rows, columns)
            x_ft = tf.signal.rfft2d(tf.transpose(x, [0, 3, 1, 2]))
            weights = tf.complex(self.spectral_weights[..., 0], self.spectral_weights[..., 1])
            low = tf.einsum('bixy,ioxy->boxy', x_ft[:, :, :m1, :m2], weights[0, :, :, :m1, :m2])
            high = tf.einsum('bixy,ioxy->boxy', x_ft[:, :, rows - m1:, :m2], weights[1, :, :, :m1, :m2])
            middle = tf.zeros_like(x_ft[:, :low.shape[1], m1:rows - m1, :m2])
            kept = tf.concat([low, middle, high], axis=2)
            out_ft = tf.pad(kept, [[0, 0], [0, 0], [0, 0], [0, columns // 2 + 1 - m2]])
            return tf.transpose(tf.signal.irfft2d(out_ft, fft_length=[rows, columns]), [0, 2, 3, 1])

    def gelu(x):
        return keras.activations.gelu(x, approximate=False)

    class KerasFNO(keras.Model):
        def __init__(self):
            super().__init__()
            self.padding = 0 if periodic else PADDING
            self.lift = keras.layers.Dense(width)
            self.spectral = [SpectralConv() for _ in range(layers)]
            self.pointwise = [keras.layers.Dense(width) for _ in range(layers)]
            self.project = keras.layers.Dense(projection)
            self.out = keras.layers.Dense(out_channels)

        def call(self, x):
            x = self.lift(x)
            if self.padding:
                x = tf.pad(x, [[0, 0], [0, self.padding], [0, self.padding], [0, 0]])
            for i, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
                x = spectral(x) + pointwise(x)
                if i < layers - 1:
                    x = gelu(x)
            if self.padding:
                x = x[:, :-self.padding, :-self.padding]
            return self.out(gelu(self.project(x)))

    net = KerasFNO()
    net(tf.zeros([1, 2 * modes, 2 * modes, in_channels]))
    return net
