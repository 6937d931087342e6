"""README.rst is the user's entry point: it must render, and CI must run exactly its test command."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(__file__), '..')


def readme() -> str:
    with open(os.path.join(ROOT, 'README.rst'), encoding='utf-8') as file:
        return file.read()


def test_readme_is_valid_restructured_text():
    docutils = pytest.importorskip('docutils.core')
    problems = []
    docutils.publish_string(readme(), writer_name='null', settings_overrides={
        'report_level': 2, 'halt_level': 5, 'warning_stream': _Collector(problems)})
    assert not problems, ''.join(problems)


class _Collector:
    def __init__(self, sink: list):
        self.sink = sink

    def write(self, text: str):
        self.sink.append(text)


def test_readme_gives_the_two_commands_and_ci_runs_the_test_command():
    commands = re.findall(r'^ {4}(pip install .*)$', readme(), flags=re.M)
    assert any('demos/poisson.py' in c for c in commands), commands
    test_commands = [c for c in commands if 'python -m pytest' in c]
    assert len(test_commands) == 1
    with open(os.path.join(ROOT, '.ci', 'run')) as file:
        ci = file.read()
    extracted = subprocess.run(['bash', '-c', re.search(r"test_command=\$\((.*)\)\n", ci).group(1)],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert extracted == test_commands[0]


FLOWS = {'torch': 'phi.torch.flow', 'tensorflow': 'phi.tf.flow', 'jax': 'phi.jax.stax.flow'}


def python_snippets():
    blocks = re.findall(r'^\.\. code-block:: python\n\n((?: {4}.*\n|\n)+)', readme(), flags=re.M)
    return [textwrap.dedent(block) for block in blocks]


def test_readme_has_the_own_simulation_snippets():
    titles = re.findall(r'^(.*)\n-{3,}$', readme(), flags=re.M)
    assert 'SIP in your own PhiFlow simulation' in titles and 'SMDP in your own PhiFlow simulation' in titles
    assert len(python_snippets()) == 2 and all('from phi.torch.flow import *' in s for s in python_snippets())


@pytest.mark.parametrize('backend', sorted(FLOWS))
@pytest.mark.parametrize('index', [0, 1], ids=['sip', 'smdp'])
def test_readme_snippet_runs(backend, index):
    pytest.importorskip({'torch': 'torch', 'tensorflow': 'tensorflow', 'jax': 'jax'}[backend])
    code = python_snippets()[index].replace('from phi.torch.flow import *', f'from {FLOWS[backend]} import *')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
