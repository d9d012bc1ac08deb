"""Concentration: Gini, top shares and places for half, on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from hotspots.core.errors import SchemaError
from hotspots.methods.concentration import measure_concentration


def test_even_spread_has_gini_zero():
    result = measure_concentration(np.ones(100))
    assert result.gini == pytest.approx(0.0)
    assert result.top_share[0.10] == pytest.approx(0.10)
    assert result.places_for_half == 50


def test_all_in_one_place():
    values = np.zeros(100)
    values[7] = 42.0
    result = measure_concentration(values)
    assert result.gini == pytest.approx(0.99)  # (n - 1) / n for one place of n
    assert result.top_share[0.01] == 1.0
    assert result.places_for_half == 1
    assert result.share_of_places_for_half == 0.01


def test_hand_checked_case():
    # values 1, 2, 3, 4: total 10; Gini = sum((2i-n-1) x_i)/(n sum) = (-3-2+3+12)/40 = 0.25
    result = measure_concentration([3, 1, 4, 2], top_shares=(0.25, 0.5))
    assert result.gini == pytest.approx(0.25)
    assert result.top_share == {0.25: pytest.approx(0.4), 0.5: pytest.approx(0.7)}
    assert result.places_for_half == 2  # 4 + 3 = 7 >= 5
    lorenz = result.lorenz
    assert lorenz["share_of_total"].tolist() == pytest.approx([0, 0.1, 0.3, 0.6, 1.0])


def test_zeros_count_as_places():
    with_zeros = measure_concentration([0, 0, 0, 10])
    without = measure_concentration([10])
    assert with_zeros.gini > without.gini


def test_bad_values_are_refused():
    with pytest.raises(SchemaError, match=">= 0"):
        measure_concentration([1, -1])
    with pytest.raises(SchemaError, match=">= 0"):
        measure_concentration([1, np.nan])
    with pytest.raises(SchemaError, match="at least one"):
        measure_concentration([])
