"""kdbook.goodness_of_fit against scipy.stats (a test dependency only) and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from kdbook.goodness_of_fit import chi_square_sf, chi_square_test

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("dof", [1, 2, 3, 5, 10, 37, 200, 1500])
def test_survival_function_matches_scipy(dof):
    xs = np.r_[0.0, 1e-6, np.linspace(0.01, 3 * dof + 40, 60), 5 * dof + 200]
    for x in xs:
        want = stats.chi2.sf(x, dof)
        got = chi_square_sf(x, dof)
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-300), (x, dof, got, want)


def test_closed_forms():
    # two degrees of freedom: P(χ² > x) = exp(−x/2); one: erfc(sqrt(x/2))
    for x in (0.1, 1.0, 7.5, 60.0):
        assert math.isclose(chi_square_sf(x, 2), math.exp(-x / 2), rel_tol=1e-12)
        assert math.isclose(chi_square_sf(x, 1), math.erfc(math.sqrt(x / 2)), rel_tol=1e-10)
    assert chi_square_sf(0.0, 4) == 1.0 and chi_square_sf(math.inf, 4) == 0.0


def test_test_matches_scipy_on_random_counts():
    rng = np.random.default_rng(3)
    for k in (2, 5, 30):
        p = rng.dirichlet(np.ones(k))
        obs = rng.multinomial(5000, p)
        exp = 5000 * p
        want = stats.chisquare(obs, exp)
        got = chi_square_test(obs, exp)
        assert math.isclose(got.statistic, want.statistic, rel_tol=1e-12)
        assert math.isclose(got.pvalue, want.pvalue, rel_tol=1e-9)
        assert math.isclose(chi_square_test(obs, exp, ddof=1).pvalue, stats.chisquare(obs, exp, ddof=1).pvalue,
                            rel_tol=1e-9) if k > 2 else True


@pytest.mark.parametrize("obs, exp, ddof, match", [
    ([1, 2], [1, 2, 0], 0, "expected must have the shape"),
    ([1, 2], [3, 0], 0, "expected must hold finite counts > 0"),
    ([1, -2], [1, -2], 0, "observed must hold finite counts >= 0"),
    ([1, 2], [2, 2], 0, "same total"),
    ([5], [5], 0, "at least two counts"),
    ([1, 2], [1, 2], 1, "degrees of freedom"),
])
def test_bad_input_is_named(obs, exp, ddof, match):
    with pytest.raises(ValueError, match=match):
        chi_square_test(obs, exp, ddof=ddof)
    with pytest.raises(ValueError, match="dof must be"):
        chi_square_sf(1.0, 0)
