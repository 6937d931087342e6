"""Evaluation metrics, per example (reduced over everything but the batch dimensions)."""
from typing import Union

from phi import math
from phi.field import Field
from phi.math import Tensor


def values_of(value: Union[Field, Tensor]) -> Tensor:
    """The value tensor of a Field, or the tensor itself."""
    return value.values if isinstance(value, Field) else value


def mean_abs_error(x_pred: Union[Field, Tensor], x_true: Union[Field, Tensor]) -> Tensor:
    """`x_mae`: mean over all non-batch dimensions (cells, components) of `|x̂ − x*|`, per example."""
    return math.mean(abs(values_of(x_pred - x_true)), lambda s: s.non_batch)


def half_squared_norm(value: Union[Field, Tensor]) -> Tensor:
    """`½‖v‖²` per example: the sum over all non-batch dimensions of `½v²` (the `y_loss` of `P(x̂) − y*`)."""
    return math.sum(values_of(value) ** 2, dim=lambda s: s.non_batch) / 2
