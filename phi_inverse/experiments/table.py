"""Tables over repeated runs: one `Experiment` per (setting, seed), aggregated into means and standard deviations.

`run_grid` runs a demo's single-experiment function for every (setting, seed), optionally in parallel processes,
each writing its own `metrics.json`; `aggregate` reads them back into `{method: {setting: {metric: stats}}}`;
`rst_table` renders that beside a paper's numbers as a reStructuredText table.
"""
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

Stats = Dict[str, object]


def run_grid(run: Callable, jobs: Sequence, workers: int = 1):
    """`run(job)` for every job, in `workers` spawned processes (1: in this process, in order)."""
    if workers <= 1:
        return [run(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context('spawn')) as pool:
        return list(pool.map(run, jobs))


def aggregate(runs: Dict[Tuple[float, int], str], metrics: Sequence[str]) -> Dict[str, Dict[float, Dict[str, Stats]]]:
    """Mean, standard deviation (over seeds, `ddof = 0`) and values of `final[metric]` of every method entry.

    Args:
        runs: `{(setting, seed): folder with metrics.json}`.
        metrics: Keys of each entry's `final` to aggregate.
    """
    values: Dict[str, Dict[float, Dict[str, list]]] = {}
    for (setting, seed), folder in sorted(runs.items()):
        with open(os.path.join(folder, 'metrics.json')) as file:
            recorded = json.load(file)
        for name, entry in recorded['methods'].items():
            for metric in metrics:
                value = entry.get('final', {}).get(metric, np.nan)
                values.setdefault(name, {}).setdefault(setting, {}).setdefault(metric, []).append((seed, float(value)))
    return {name: {setting: {metric: _stats(pairs) for metric, pairs in by_metric.items()}
                   for setting, by_metric in by_setting.items()} for name, by_setting in values.items()}


def _stats(pairs) -> Stats:
    seeds, values = zip(*pairs)
    return {'mean': float(np.mean(values)), 'std': float(np.std(values)), 'values': list(values), 'seeds': list(seeds)}


def compare(table: dict, paper: dict, metrics: Sequence[str]) -> dict:
    """Adds the paper's `(mean, std)` per cell and `met`: our mean ≥ paper mean − paper std.

    Args:
        paper: `{method: {setting: ((mean, std) per metric, in the order of metrics)}}`.
    """
    for name, by_setting in table.items():
        for setting, by_metric in by_setting.items():
            reference = paper.get(name, {}).get(setting)
            for k, metric in enumerate(metrics):
                if reference is not None and metric in by_metric:
                    mean, std = reference[k]
                    by_metric[metric].update(paper_mean=mean, paper_std=std, met=bool(by_metric[metric]['mean'] >= mean - std))
    return table


def rst_table(table: dict, metrics: Sequence[str], labels: Sequence[str], settings: Sequence[float],
              setting_label: Callable[[float], str] = lambda s: f'{s:g}', title: Optional[str] = None) -> str:
    """A reStructuredText grid table: one row per method, for each metric and setting `ours ± std (paper ± std)`,
    with ✓ where `met` and ✗ where not."""
    header = ['method'] + [f'{label} {setting_label(s)}' for label in labels for s in settings]
    rows = []
    for name, by_setting in table.items():
        row = [name]
        for metric in metrics:
            for s in settings:
                cell = by_setting.get(s, {}).get(metric)
                row.append(_cell(cell))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda char: '+' + '+'.join(char * (w + 2) for w in widths) + '+'
    render = lambda r: '| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |'
    lines = ([title, ''] if title else []) + [line('-'), render(header), line('=')]
    for r in rows:
        lines += [render(r), line('-')]
    return '\n'.join(lines) + '\n'


def _cell(cell: Optional[Stats]) -> str:
    if cell is None:
        return '–'
    text = f"{cell['mean']:.2f} ± {cell['std']:.2f}"
    if 'paper_mean' in cell:
        text += f" ({cell['paper_mean']:.2f} ± {cell['paper_std']:.2f}) {'✓' if cell['met'] else '✗'}"
    return text
