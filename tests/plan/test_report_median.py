"""The reports' median of counted values gives what `statistics.median` gives over the values themselves, to the
type: an int in the middle for an odd count, the mean of the two middle ones as a float for an even one."""

import random
import statistics
from collections import Counter

import pytest

from services.plan.service.reports import _median


@pytest.mark.parametrize(
    "values",
    [[7], [3, 3], [1, 2], [0, 10, 10], [4, 1, 9, 9], [5, 5, 5, 6, 6, 6], [2, 40, 40, 40, 41, 90, 90, 365]],
)
def test_the_median_of_counts_is_the_median_of_the_values(values: list[int]) -> None:
    median = _median(Counter(values))

    assert median == statistics.median(values)
    assert type(median) is type(statistics.median(values))


def test_the_median_of_counts_agrees_over_many_random_lists() -> None:
    draw = random.Random(20)
    for _ in range(2_000):
        values = [draw.randint(0, 30) for _ in range(draw.randint(1, 15))]
        median = _median(Counter(values))
        assert (median, type(median)) == (statistics.median(values), type(statistics.median(values)))


def test_nothing_counted_has_no_median() -> None:
    assert _median(Counter()) is None
