"""Spectral building blocks shared by the grid operators.

The 5-point Laplacian is diagonalised separably, one transform per dimension:

* periodic boundaries by the FFT, eigenvalues `λ_k = (2cos(2π k/n) − 2)/dx²`, `k = 0 … n−1`;
* zero ghost cells (PhiFlow's extrapolation `0` on a centred grid) by the type-I sine transform
  `ŝ_k = Σ_j v_j sin(π(k+1)(j+1)/(n+1))`, eigenvalues `λ_k = (2cos(π(k+1)/(n+1)) − 2)/dx²`;
* zero-gradient (Neumann) ghost cells (`extrapolation.ZERO_GRADIENT`, ghost = edge cell) by the type-II cosine
  transform `ĉ_k = Σ_j v_j cos(πk(j+½)/n)`, eigenvalues `λ_k = (2cos(πk/n) − 2)/dx²`, `λ_0 = 0` (the constant).

Both real transforms are applied as dense `n×n` matrices: for the grid sizes of learning problems (n ≲ 512) a
BLAS matrix product is faster than an FFT of the odd or even extension of length ≈ 2n, and it stays real.
PhiML 1.16 has no DCT or DST.
The continuous Laplacian is diagonalised by the FFT on a periodic grid with eigenvalues `−(2π|k|)²`, `k` in cycles
per unit length (`fourier_laplace_eigenvalues()`); the heat equation uses it.

All constants are NumPy-backed and cached, so they are constants for every backend and under JIT tracing.
"""
from functools import lru_cache
from typing import Dict, Sequence

import numpy as np
from phi import math
from phi.field import Field
from phi.math import Shape, Tensor, extrapolation

PERIODIC, ZERO, ZERO_GRADIENT, OTHER = 'periodic', 'zero', 'zero_gradient', 'other'
KINDS = {PERIODIC: extrapolation.PERIODIC, ZERO: extrapolation.ZERO, ZERO_GRADIENT: extrapolation.ZERO_GRADIENT}


def boundary_side(ext: extrapolation.Extrapolation, key: str) -> extrapolation.Extrapolation:
    """The extrapolation at one side, e.g. `key='x-'`, of a possibly mixed extrapolation."""
    by_side = getattr(ext, 'ext', None)  # _MixedExtrapolation stores {'x': e} or {'x-': e, 'x+': e}
    if by_side is None:
        return ext
    return by_side.get(key, by_side.get(key[:-1]))


def boundary_kind(ext: extrapolation.Extrapolation, dim: str) -> str:
    """Classifies the boundary of one spatial dimension as `'periodic'`, `'zero'`, `'zero_gradient'` (both sides
    alike) or `'other'`."""
    lower, upper = (boundary_side(ext, dim + side) for side in '-+')
    return next((kind for kind, kind_ext in KINDS.items() if lower == upper == kind_ext), OTHER)


def boundary_kinds(grid: Field) -> Dict[str, str]:
    """`boundary_kind()` for every spatial dimension of `grid`."""
    return {dim: boundary_kind(grid.extrapolation, dim) for dim in grid.shape.spatial.names}


def cell_sizes(grid: Field) -> Dict[str, float]:
    """Grid spacing per spatial dimension as Python floats. Raises for batched domains."""
    dx = grid.dx
    if dx.shape.non_channel:
        raise ValueError(f"Spectral operators need one grid spacing per dimension, but dx varies along {dx.shape.non_channel}. "
                         f"Use one domain size per batch or the iterative solver.")
    return {dim: float(dx[dim]) for dim in grid.shape.spatial.names}


def sine_transform(values: Tensor, dim: str) -> Tensor:
    """Type-I discrete sine transform along `dim`, `ŝ_k = Σ_j v_j sin(π(k+1)(j+1)/(n+1))`.

    Applying it twice multiplies by `(n+1)/2`; see `inverse_sine_transform()`.
    """
    return _matrix_transform(values, dim, _sine_matrix(values.shape.get_size(dim)))


def inverse_sine_transform(coefficients: Tensor, dim: str) -> Tensor:
    """Inverse of `sine_transform()`: the same transform scaled by `2/(n+1)`."""
    return sine_transform(coefficients, dim) * (2 / (coefficients.shape.get_size(dim) + 1))


def cosine_transform(values: Tensor, dim: str) -> Tensor:
    """Type-II discrete cosine transform along `dim`, `ĉ_k = Σ_j v_j cos(πk(j+½)/n)`; inverse `inverse_cosine_transform()`."""
    return _matrix_transform(values, dim, _cosine_matrix(values.shape.get_size(dim)))


def inverse_cosine_transform(coefficients: Tensor, dim: str) -> Tensor:
    """Inverse of `cosine_transform()` (type III): `v_j = ĉ_0/n + (2/n) Σ_{k≥1} ĉ_k cos(πk(j+½)/n)`."""
    return _matrix_transform(coefficients, dim, _inverse_cosine_matrix(coefficients.shape.get_size(dim)))


def _matrix_transform(values: Tensor, dim: str, matrix: np.ndarray) -> Tensor:
    size = values.shape.get_size(dim)
    matrix = math.wrap(matrix, math.spatial(**{dim: size}), math.dual(**{dim: size}))
    transformed = math.dot(matrix, [math.dual(**{dim: size}).name], values, [dim])
    return math.wrap(transformed.native(values.shape.names), values.shape)  # math.dot moves `dim` to the front


@lru_cache(maxsize=32)
def _sine_matrix(size: int) -> np.ndarray:
    index = np.arange(1, size + 1)
    return np.sin(np.pi * np.outer(index, index) / (size + 1))


@lru_cache(maxsize=32)
def _cosine_matrix(size: int) -> np.ndarray:
    return np.cos(np.pi * np.outer(np.arange(size), np.arange(size) + .5) / size)


@lru_cache(maxsize=32)
def _inverse_cosine_matrix(size: int) -> np.ndarray:
    weights = np.full(size, 2. / size)
    weights[0] = 1. / size
    return _cosine_matrix(size).T * weights


def to_spectrum(values: Tensor, kinds: Dict[str, str]) -> Tensor:
    """Transforms `values` to the eigenbasis of the 5-point Laplacian: sine transform along zero-boundary
    dimensions, cosine transform along zero-gradient ones, FFT along periodic ones (complex if any is periodic)."""
    for dim in _dims(kinds, ZERO):
        values = sine_transform(values, dim)
    for dim in _dims(kinds, ZERO_GRADIENT):
        values = cosine_transform(values, dim)
    periodic = _dims(kinds, PERIODIC)
    return math.fft(values, periodic) if periodic else values


def from_spectrum(coefficients: Tensor, kinds: Dict[str, str]) -> Tensor:
    """Inverse of `to_spectrum()`, returning real values."""
    periodic = _dims(kinds, PERIODIC)
    values = math.real(math.ifft(coefficients, periodic)) if periodic else coefficients
    for dim in _dims(kinds, ZERO):
        values = inverse_sine_transform(values, dim)
    for dim in _dims(kinds, ZERO_GRADIENT):
        values = inverse_cosine_transform(values, dim)
    return values


def _dims(kinds: Dict[str, str], kind: str) -> Sequence[str]:
    return [dim for dim, k in kinds.items() if k == kind]


def laplace_eigenvalues(resolution: Shape, dx: Dict[str, float], kinds: Dict[str, str]) -> Tensor:
    """Eigenvalues `λ_k = Σ_d λ_d(k_d)` of the 5-point Laplacian in the basis of `to_spectrum()` (NumPy-backed)."""
    return math.wrap(_laplace_eigenvalues(_key(resolution, dx, kinds)), resolution)


def inverse_laplace_eigenvalues(resolution: Shape, dx: Dict[str, float], kinds: Dict[str, str]) -> Tensor:
    """`1/λ_k`, with 0 on the null space `λ_k = 0` (the mean, if no dimension has zero boundaries). NumPy-backed."""
    return math.wrap(_inverse_laplace_eigenvalues(_key(resolution, dx, kinds)), resolution)


def _key(resolution: Shape, dx: Dict[str, float], kinds: Dict[str, str]) -> tuple:
    for dim in resolution.names:
        if kinds[dim] not in KINDS:
            raise ValueError(f"No spectral basis for boundary '{kinds[dim]}' along '{dim}'; only periodic, zero and zero-gradient boundaries.")
    return tuple((resolution.get_size(dim), float(dx[dim]), kinds[dim]) for dim in resolution.names)


@lru_cache(maxsize=64)
def _laplace_eigenvalues(key: tuple) -> np.ndarray:
    axes = [_axis_eigenvalues(n, dx, kind) for n, dx, kind in key]
    return sum(np.meshgrid(*axes, indexing='ij'))


def _axis_eigenvalues(size: int, dx: float, kind: str) -> np.ndarray:
    if kind == PERIODIC:
        return (2 * np.cos(2 * np.pi * np.fft.fftfreq(size)) - 2) / dx ** 2
    if kind == ZERO_GRADIENT:
        return (2 * np.cos(np.pi * np.arange(size) / size) - 2) / dx ** 2
    return (2 * np.cos(np.pi * np.arange(1, size + 1) / (size + 1)) - 2) / dx ** 2


@lru_cache(maxsize=64)
def _inverse_laplace_eigenvalues(key: tuple) -> np.ndarray:
    eigenvalues = _laplace_eigenvalues(key)
    with np.errstate(divide='ignore'):
        return np.where(eigenvalues == 0, 0., 1 / eigenvalues)


def fourier_laplace_eigenvalues(resolution: Shape, dx: Dict[str, float]) -> Tensor:
    """Eigenvalues `−(2π|k|)²` of the continuous Laplacian in the FFT basis of a periodic grid (NumPy-backed).

    `k_d = fftfreq(n_d, dx_d)` is the frequency in cycles per unit length, so the grid spacing is honoured
    (PhiFlow's `diffuse.fourier` uses cycles per cell, i.e. assumes `dx = 1`).
    """
    key = tuple((resolution.get_size(dim), float(dx[dim])) for dim in resolution.names)
    return math.wrap(_fourier_laplace_eigenvalues(key), resolution)


@lru_cache(maxsize=64)
def _fourier_laplace_eigenvalues(key: tuple) -> np.ndarray:
    axes = [-(2 * np.pi * np.fft.fftfreq(n, d=dx)) ** 2 for n, dx in key]
    return sum(np.meshgrid(*axes, indexing='ij'))
