"""Figures of the SMDP demos (matplotlib): correction fields and reverse trajectories of the toy SDE, learning
curves of any metric, reconstructions, posterior samples and power spectra of grids."""
import os
from typing import Dict, Sequence

import numpy as np

from .plot import save_figure, subplots


def correction_fields(fields: Dict[str, np.ndarray], times: np.ndarray, states: np.ndarray, paths: np.ndarray,
                      path: str, title: str = '') -> str:
    """One panel per model: `s_θ(x, t)` as a colour map over `(t, x)` (red pushes up, blue down), with data paths.

    Args:
        fields: Model name → `s_θ` on the grid, shape `(len(states), len(times))`.
        times, states: Grid axes.
        paths: Training paths to overlay, shape `(count, len(path_times))` spanning `times`.
    """
    fig, axes = subplots(1, len(fields), figsize=(5 * len(fields), 3.8), squeeze=False)
    limit = max(np.nanpercentile(np.abs(values), 98) for values in fields.values())
    path_times = np.linspace(times[0], times[-1], paths.shape[1])
    for axis, (name, values) in zip(axes[0], fields.items()):
        image = axis.pcolormesh(times, states, values, cmap='RdBu_r', vmin=-limit, vmax=limit, shading='auto')
        axis.plot(path_times, paths.T, color='k', alpha=.25, linewidth=.6)
        axis.set(title=name, xlabel='t', ylabel='x', ylim=(states[0], states[-1]))
        fig.colorbar(image, ax=axis, fraction=.046, pad=.04, label='s_θ(x, t)')
    fig.suptitle(title)
    return save_figure(fig, path)


def trajectories(rows: Dict[str, Dict[str, np.ndarray]], times: np.ndarray, path: str, title: str = '') -> str:
    """A grid of reverse trajectories: one row per model, one column per sampler (e.g. ODE, SDE).

    Args:
        rows: Model → sampler → trajectories of shape `(len(times), count)`.
    """
    samplers = list(next(iter(rows.values())))
    fig, axes = subplots(len(rows), len(samplers), figsize=(5 * len(samplers), 2.8 * len(rows)), squeeze=False, sharex=True)
    for r, (name, by_sampler) in enumerate(rows.items()):
        for c, sampler in enumerate(samplers):
            axis = axes[r, c]
            axis.plot(times, np.clip(by_sampler[sampler], -1.5, 1.5), linewidth=.7, alpha=.7)
            axis.axhline(1, color='k', linestyle=':', linewidth=.8)
            axis.axhline(-1, color='k', linestyle=':', linewidth=.8)
            axis.set(ylim=(-1.5, 1.5), title=f'{name}, {sampler}', ylabel='x')
    for axis in axes[-1]:
        axis.set_xlabel('t')
    fig.suptitle(title)
    return save_figure(fig, path)


def metric_curves(metrics: dict, keys: Sequence[str], path: str, ylabel: str = '', log: bool = False) -> str:
    """Each method's learning curve of the first of `keys` it has, against training steps and wall time."""
    fig, (by_step, by_time) = subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, entry in metrics['methods'].items():
        curve = entry.get('curve', {})
        for key in keys:
            if key in curve:
                by_step.plot(curve['step'], curve[key], marker='.', label=f'{name} {key}')
                by_time.plot(curve['wall_time'], curve[key], marker='.', label=f'{name} {key}')
    for axis, label in ((by_step, 'training step'), (by_time, 'training wall time [s]')):
        axis.set_xlabel(label)
        axis.grid(True, alpha=.3)
        if log:
            axis.set_yscale('log')
    by_step.set_ylabel(ylabel)
    by_step.legend(fontsize=7)
    fig.suptitle(f"{metrics['scene']} ({metrics['backend']}, {metrics['device']})")
    return save_figure(fig, path)


def power_spectra(spectra: Dict[str, np.ndarray], path: str, title: str = '') -> str:
    """Radially averaged power spectra `PS(r)` (log scale), one line per label."""
    fig, axis = subplots(figsize=(6, 4))
    for label, spectrum in spectra.items():
        radius = np.arange(len(spectrum))
        axis.plot(radius[1:], spectrum[1:], label=label, linestyle='--' if label == 'ground truth' else '-')
    axis.set(yscale='log', xlabel='radius |k|', ylabel='power', title=title)
    axis.grid(True, which='both', alpha=.3)
    axis.legend(fontsize=8)
    return save_figure(fig, path)


def error_by_radius(errors: Dict[str, np.ndarray], path: str, radii: int = 6, reference: str = 'posterior mean') -> str:
    """The reconstruction MSE split over the radius bins of the error spectrum (log scale): one group of bars per
    radius `r`, one bar per method, `reference` outlined in black; the bars of a method sum (over all radii) to its MSE.
    The axis starts a decade below the smallest nonzero bar of `reference`."""
    fig, axis = subplots(figsize=(8, 4))
    width = .8 / len(errors)
    for i, (label, error) in enumerate(errors.items()):
        style = dict(facecolor='none', edgecolor='k', linewidth=1.2) if label == reference else dict(color=f'C{i}')
        axis.bar(np.arange(radii) + (i - (len(errors) - 1) / 2) * width, error[:radii], width, label=label, **style)
    floor = errors[reference][:radii]
    axis.set(yscale='log', ylim=(.1 * floor[floor > 1e-12].min(), None), xticks=range(radii),
             xlabel='radius ⌊|k|⌋ of the error spectrum', ylabel='part of the reconstruction MSE',
             title='Where the reconstruction error lies (test set)')
    axis.grid(True, axis='y', which='both', alpha=.3)
    axis.legend(fontsize=8, ncol=4)
    return save_figure(fig, path)


def method_comparison(metrics: dict, path: str, keys: Sequence[str] = ('mse', 'spectral_error'), title: str = '') -> str:
    """One bar per `metrics.json` entry for each of `keys` (final values, log scale), as paper Fig. 3b."""
    entries = [name for name, entry in metrics['methods'].items() if all(k in entry.get('final', {}) for k in keys)]
    fig, axes = subplots(1, len(keys), figsize=(4.5 * len(keys), 3.8), squeeze=False)
    for axis, key in zip(axes[0], keys):
        values = [metrics['methods'][name]['final'][key] for name in entries]
        axis.bar(range(len(entries)), values, color=[f'C{i}' for i in range(len(entries))])
        axis.set_xticks(range(len(entries)), entries, rotation=45, ha='right')
        axis.set(yscale='log', ylabel=key.replace('_', ' '))
        axis.grid(True, axis='y', which='both', alpha=.3)
    fig.suptitle(title or f"Final metrics ({metrics['backend']}, {metrics['device']})")
    return save_figure(fig, path)


def window_ablation(metrics: dict, windows: Sequence[int], path: str) -> str:
    """Final reconstruction MSE and spectral error of `smdp-s<S>-ode` / `smdp-s<S>-sde` against `S_max` (paper Fig. 4)."""
    fig, axes = subplots(1, 2, figsize=(10, 3.8))
    for axis, key, label in zip(axes, ('mse', 'spectral_error'), ('reconstruction MSE', 'spectral error')):
        for sampler in ('ode', 'sde'):
            values = [metrics['methods'].get(f'smdp-s{w}-{sampler}', {}).get('final', {}).get(key, np.nan) for w in windows]
            axis.plot(windows, values, marker='o', label=f'SMDP {sampler.upper()}')
        axis.set(xscale='log', yscale='log', xlabel='S_max', ylabel=label)
        axis.set_xticks(list(windows), [str(w) for w in windows])
        axis.set_xticks([], minor=True)
        axis.grid(True, which='both', alpha=.3)
        axis.legend()
    fig.suptitle(f"Window size ablation ({metrics['backend']}, {metrics['device']})")
    return save_figure(fig, path)


def posterior_samples(references: Dict[str, np.ndarray], samples: Dict[str, Sequence[np.ndarray]], path: str, title: str = '') -> str:
    """Reference images (first row) and rows of posterior samples, all `[x, y]` arrays on one colour scale."""
    columns = max(len(references), *(len(s) for s in samples.values()))
    images = list(references.values()) + [image for row in samples.values() for image in row]
    low, high = min(np.min(i) for i in images), max(np.max(i) for i in images)
    fig, axes = subplots(1 + len(samples), columns, figsize=(2.3 * columns + 1, 2.2 * (1 + len(samples))), squeeze=False)
    rows = [list(references.items())] + [[(f'{name} {i + 1}', image) for i, image in enumerate(row)] for name, row in samples.items()]
    for axis_row, row in zip(axes, rows):
        for column, axis in enumerate(axis_row):
            axis.set_axis_off()
            if column < len(row):
                label, image = row[column]
                mappable = axis.imshow(np.asarray(image).T, origin='lower', cmap='RdBu_r', vmin=low, vmax=high)
                axis.set_title(label, fontsize=8)
    fig.colorbar(mappable, ax=axes.ravel().tolist(), fraction=.02, pad=.01)
    fig.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    return path

