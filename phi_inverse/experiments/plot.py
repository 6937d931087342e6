"""Figures: learning curves from `metrics.json` and image grids of fields.

Figures are built with matplotlib's object API (`matplotlib.figure.Figure`), so drawing them neither needs a
display nor changes the user's pyplot backend or state.
"""
import os
from typing import Dict, List, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from phi.field import Field
from phi.math import Tensor


def learning_curves(metrics: dict, path: str, metric: str = 'x_mae') -> str:
    """Plots `metric` of every method against training steps and against wall time (log scale where positive).

    Args:
        metrics: A `metrics.json` dictionary.
        path: Output image file.
        metric: Curve key to plot.

    Returns:
        `path`.
    """
    fig, (by_step, by_time) = subplots(1, 2, figsize=(11, 4), sharey=True)
    values = []
    for name, entry in metrics['methods'].items():
        curve = entry.get('curve', {})
        if metric not in curve:
            continue
        by_step.plot(curve['step'], curve[metric], label=name)
        by_time.plot(curve['wall_time'], curve[metric], label=name)
        values += curve[metric]
    for axis, label in ((by_step, 'training step'), (by_time, 'training wall time [s]')):
        axis.set_yscale('log' if values and min(values) > 0 else 'linear')
        axis.set_xlabel(label)
        axis.grid(True, which='both', alpha=.3)
    by_step.set_ylabel(metric)
    by_step.legend()
    fig.suptitle(f"{metrics['scene']} — {metric} on the test set ({metrics['backend']}, {metrics['device']})")
    return save_figure(fig, path)


def timing_bars(report: Dict[str, dict], path: str, title: str = '') -> str:
    """Grouped bar chart of median times per backend: forward, inverse and training step, eager and JIT (log scale)."""
    groups = [(operator, mode) for operator in ('forward', 'inverse', 'train_step') for mode in ('eager', 'jit')]
    fig, axis = subplots(figsize=(10, 4))
    width = .8 / max(len(report), 1)
    for index, (backend, entry) in enumerate(report.items()):
        values = [entry['seconds'].get(o, {}).get(m, np.nan) * 1e3 for o, m in groups]
        axis.bar(np.arange(len(groups)) + index * width, values, width, label=f"{backend} ({entry['device']})")
    axis.set_xticks(np.arange(len(groups)) + width * (len(report) - 1) / 2)
    axis.set_xticklabels([f'{o}\n{m}' for o, m in groups])
    axis.set_yscale('log')
    axis.set_ylabel('median time [ms]')
    axis.legend()
    axis.grid(True, axis='y', which='both', alpha=.3)
    axis.set_title(title)
    return save_figure(fig, path)


def image_grid(rows: Dict[str, Sequence[np.ndarray]], path: str, title: str = '', shared_scale: Sequence[List[str]] = ()) -> str:
    """Draws one row per entry of `rows` and one column per example.

    Args:
        rows: Row label → list of 2D arrays (indexed `[x, y]`), one per example.
        path: Output image file.
        title: Figure title.
        shared_scale: Groups of row labels whose images share one colour scale per column.

    Returns:
        `path`.
    """
    labels = list(rows)
    columns = len(rows[labels[0]])
    fig, axes = subplots(len(labels), columns, figsize=(2.4 * columns + 1, 2.2 * len(labels)), squeeze=False)
    for column in range(columns):
        limits = _shared_limits(rows, column, shared_scale)
        for row, label in enumerate(labels):
            image = np.asarray(rows[label][column])
            vmin, vmax = limits.get(label, (image.min(), image.max()))
            mappable = axes[row, column].imshow(image.T, origin='lower', cmap='RdBu_r' if vmin < 0 < vmax else 'viridis', vmin=vmin, vmax=vmax)
            fig.colorbar(mappable, ax=axes[row, column], fraction=.046, pad=.04)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if column == 0:
                axes[row, column].set_ylabel(label)
    fig.suptitle(title)
    return save_figure(fig, path)


def _shared_limits(rows, column: int, groups) -> Dict[str, tuple]:
    limits = {}
    for group in groups:
        images = [np.asarray(rows[label][column]) for label in group if label in rows]
        low, high = min(i.min() for i in images), max(i.max() for i in images)
        limits.update({label: (low, high) for label in group})
    return limits


def examples(field: Field, count: int) -> List[np.ndarray]:
    """The first `count` examples of a 2D scalar grid as `[x, y]` NumPy arrays."""
    values: Tensor = field.values
    dim = values.shape.batch.names[0]
    return [values[{dim: i}].numpy('x,y') for i in range(min(count, values.shape.get_size(dim)))]


def subplots(*grid, figsize=None, layout=None, **options):
    """A new figure and its axes, like `pyplot.subplots` but without pyplot (no global state, any backend)."""
    figure = Figure(figsize=figsize, layout=layout)
    return figure, figure.subplots(*grid, **options)


def figure(figsize=None, layout=None) -> Figure:
    """A new empty figure, without pyplot."""
    return Figure(figsize=figsize, layout=layout)


def save_figure(fig: Figure, path: str, tight: bool = True) -> str:
    """Saves `fig` to `path` (creating its folder), with a tight layout unless the figure has its own; returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if tight and fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def iteration_curves(curves: Dict[str, Sequence[float]], references: Dict[str, float], path: str, title: str = '',
                     metric: str = 'x_mae') -> str:
    """Plots the error of iterative solvers against their iteration, with horizontal lines for reference values.

    Args:
        curves: Solver label → error after each iteration (starting at iteration 0).
        references: Label → error of a reference (e.g. a trained network), drawn as a dashed line.
        path: Output image file.
        title: Figure title.
        metric: Axis label.

    Returns:
        `path`.
    """
    fig, axis = subplots(figsize=(6.5, 4.2))
    for label, values in curves.items():
        axis.plot(np.arange(len(values)), values, label=label)
    for (label, value), color in zip(references.items(), matplotlib.rcParams['axes.prop_cycle'].by_key()['color'][len(curves):]):
        axis.axhline(value, linestyle='--', color=color, label=label)
    axis.set_yscale('log')
    axis.set_xlabel('iteration')
    axis.set_ylabel(metric)
    axis.grid(True, which='both', alpha=.3)
    axis.legend()
    axis.set_title(title)
    return save_figure(fig, path)
