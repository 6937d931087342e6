"""The package's layers: the core imports neither the experiment layer nor plotting or progress bars."""
import ast
import os
import subprocess
import sys

import pytest

PACKAGE = os.path.join(os.path.dirname(__file__), '..', 'phi_inverse')
CORE = ['phi_inverse', 'phi_inverse.sip', 'phi_inverse.updates', 'phi_inverse.physics', 'phi_inverse.smdp']
FORBIDDEN = ('phi_inverse.experiments', 'matplotlib', 'tqdm')


def test_importing_the_core_imports_no_experiment_module_plotting_or_progress_bars():
    """In a fresh interpreter, beyond what PhiFlow and PhiML import themselves (PhiML imports tqdm)."""
    script = (f"import importlib, sys\n"
              f"import phi.flow, phiml.nn\n"
              f"before = set(sys.modules)\n"
              f"for name in {CORE!r}: importlib.import_module(name)\n"
              f"for name in ('phi_inverse.physics', 'phi_inverse.smdp'):\n"
              f"    package = sys.modules[name]\n"
              f"    import pkgutil\n"
              f"    for module in pkgutil.iter_modules(package.__path__): importlib.import_module(f'{{name}}.{{module.name}}')\n"
              f"print('\\n'.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, check=True).stdout.split()
    assert 'phi_inverse.smdp.samplers' in loaded and 'phi_inverse.physics.navier_stokes' in loaded
    offenders = [name for name in loaded if name.startswith(FORBIDDEN)]
    assert not offenders, f'the core imported {offenders}'


def imports_of(path: str):
    tree = ast.parse(open(path, encoding='utf-8').read())
    package = os.path.relpath(os.path.dirname(path), os.path.dirname(PACKAGE)).replace(os.sep, '.')
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split('.')[:len(package.split('.')) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            yield from ([module] if node.module else [f'{module}.{alias.name}' for alias in node.names])


def modules_under(folder: str):
    for root, _, files in os.walk(os.path.join(PACKAGE, folder)):
        yield from (os.path.join(root, f) for f in files if f.endswith('.py'))


def core_root_modules():
    return [os.path.join(PACKAGE, f'{name}.py') for name in ('__init__', 'sip', 'updates', 'derivatives', 'metrics')]


def test_the_core_modules_import_no_experiment_module_plotting_or_progress_bars():
    offenders = {os.path.basename(path): name for path in core_root_modules() for name in imports_of(path) if name.startswith(FORBIDDEN)}
    assert not offenders, offenders
    assert any(name.startswith('phi_inverse.support') for name in imports_of(os.path.join(PACKAGE, 'sip.py')))


@pytest.mark.parametrize('folder, forbidden', [
    ('support', ('phi_inverse.experiments', 'phi_inverse.physics', 'phi_inverse.smdp', 'phi_inverse.sip', 'phi_inverse.updates', 'matplotlib', 'tqdm')),
    ('physics', FORBIDDEN),
    ('smdp', FORBIDDEN),
])
def test_each_layer_imports_only_the_layers_below(folder, forbidden):
    offenders = {os.path.relpath(path, PACKAGE): name for path in modules_under(folder)
                 for name in imports_of(path) if name.startswith(forbidden)}
    assert not offenders, offenders


def test_no_module_is_longer_than_about_300_lines():
    lengths = {os.path.relpath(path, PACKAGE): sum(1 for _ in open(path, encoding='utf-8')) for path in modules_under('')}
    assert max(lengths.values()) <= 320, {name: n for name, n in lengths.items() if n > 320}
