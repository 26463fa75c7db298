"""A scalar (0-d) value is written straight from its number, exactly as the general path writes
it: a plain float, non-finite ones as the strings JSON allows, integers and booleans as they are,
negative zero kept; and scalars are never charged to the response's element budget."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_viz.encoding import ValueEncoder, dumps, to_json_numbers

SCALARS = [1.0, -0.0, 2.5e-308, 1e300, np.nan, np.inf, -np.inf, 3, -(2**62), True, False]


@pytest.mark.parametrize("number", SCALARS, ids=repr)
def test_a_scalar_is_written_as_the_general_path_writes_it(number):
    value = np.array(number)
    written = ValueEncoder(inline_elements=10)(value)
    assert type(written) is type(to_json_numbers(value))
    assert dumps(written) == dumps(to_json_numbers(value))


def test_non_finite_scalars_are_the_json_strings():
    encode = ValueEncoder(inline_elements=10)
    assert [encode(np.array(x)) for x in (np.nan, np.inf, -np.inf)] == [
        "NaN",
        "Infinity",
        "-Infinity",
    ]


def test_scalars_leave_the_budget_to_the_arrays():
    encode = ValueEncoder(inline_elements=100)  # a budget of 20 x 100 elements
    for _ in range(5000):
        assert encode(np.array(0.5)) == 0.5
    array = np.arange(100.0)
    assert encode(array) == array.tolist()  # whole, not summarised


def test_with_no_inline_elements_a_scalar_is_summarised_as_before():
    value = np.array(2.0)
    assert ValueEncoder(inline_elements=0)(value) == {
        "shape": [],
        "summary": {"min": 2.0, "max": 2.0, "mean": 2.0, "std": 0.0, "norm": 2.0, "non_finite": 0},
        "preview": 2.0,
    }
    assert ValueEncoder(inline_elements=0, full=True)(value) == 2.0
