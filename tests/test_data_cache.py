import os

import numpy as np
import pytest

from phi_inverse.experiments.data_cache import cache_key, cached


def test_second_call_loads_instead_of_generating(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {'states': np.arange(6.).reshape(2, 3)}

    first = cached('data', {'resolution': 8, 'seed': 0}, make, folder=str(tmp_path), say=lambda _: None)
    second = cached('data', {'seed': 0, 'resolution': 8}, make, folder=str(tmp_path), say=lambda _: None)
    assert len(calls) == 1
    np.testing.assert_array_equal(first['states'], second['states'])


def test_other_settings_generate_other_data(tmp_path):
    make = lambda value: (lambda: {'x': np.full(2, value)})
    a = cached('data', {'seed': 0}, make(0.), folder=str(tmp_path), say=lambda _: None)
    b = cached('data', {'seed': 1}, make(1.), folder=str(tmp_path), say=lambda _: None)
    assert a['x'][0] == 0 and b['x'][0] == 1
    assert cache_key('data', {'seed': 0}) != cache_key('data', {'seed': 1})
    assert len([f for f in os.listdir(tmp_path) if f.endswith('.npz')]) == 2


def test_make_must_return_arrays(tmp_path):
    with pytest.raises(TypeError, match='dict of NumPy arrays'):
        cached('data', {}, lambda: [1, 2], folder=str(tmp_path), say=lambda _: None)
