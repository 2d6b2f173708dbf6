"""The single-peaked student family and its forward/reverse KL fits (chapter 2)."""
from __future__ import annotations

import numpy as np
import pytest

import kdbook
from kdbook.restricted import fit_single_peak, single_peak


def _by_hand(mu, sigma, k):
    w = np.exp(-((np.arange(k) - mu) ** 2) / (2 * sigma**2))
    return w / w.sum()


def test_single_peak_is_the_normalised_gaussian_and_broadcasts():
    for mu, sigma in [(0.0, 1.0), (2.5, 0.7), (4.0, 3.0), (-1.0, 2.0)]:
        np.testing.assert_allclose(single_peak(mu, sigma, n_classes=6), _by_hand(mu, sigma, 6), rtol=1e-12)
    q = single_peak(np.array([1.0, 2.0, 3.0])[:, None], np.array([0.5, 1.0])[None, :], n_classes=5)
    assert q.shape == (3, 2, 5)
    np.testing.assert_allclose(q.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(q[2, 1], _by_hand(3.0, 1.0, 5), rtol=1e-12)
    mid = single_peak(2.0, 1.0, n_classes=5)
    np.testing.assert_allclose(mid, mid[::-1], rtol=1e-12)  # symmetric about its centre
    assert single_peak(2.0, 0.5, n_classes=5).max() > mid.max()  # narrower is more peaked


def test_a_very_narrow_peak_underflows_to_zero_not_nan():
    q = single_peak(0.0, 0.01, n_classes=4)
    assert np.isfinite(q).all() and q[0] == 1.0


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_fit_recovers_a_teacher_from_the_family(direction):
    p = single_peak(3.0, 1.5, n_classes=8)
    fit = fit_single_peak(p, direction=direction, locations=np.linspace(0, 7, 15), widths=[0.5, 1.0, 1.5, 2.0])
    assert (fit.location, fit.width) == (3.0, 1.5)
    assert fit.divergence == pytest.approx(0.0, abs=1e-12)
    assert fit.direction == direction


def _two_peaks():
    return 0.6 * single_peak(2.0, 0.7, n_classes=10) + 0.4 * single_peak(7.0, 0.7, n_classes=10)


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_fit_is_the_grid_minimum_found_by_a_plain_loop(direction):
    p, mus, sigmas = _two_peaks(), np.linspace(0, 9, 19), np.geomspace(0.3, 10, 13)
    fit = fit_single_peak(p, direction=direction, locations=mus, widths=sigmas)
    best = np.inf
    for mu in mus:
        for s in sigmas:
            q = _by_hand(mu, s, 10)
            d = float(kdbook.kl_divergence(p, q) if direction == "forward" else kdbook.kl_divergence(q, p))
            best = min(best, d)
    assert fit.divergence == pytest.approx(best, rel=1e-10)
    np.testing.assert_allclose(fit.distribution, _by_hand(fit.location, fit.width, 10), rtol=1e-10)


def test_forward_covers_both_peaks_and_reverse_picks_one():
    p = _two_peaks()
    fwd, rev = fit_single_peak(p, direction="forward"), fit_single_peak(p, direction="reverse")
    # mode covering: the forward fit sits between the peaks and is wider than either of them
    assert 2.0 < fwd.location < 7.0 and fwd.width > 2 * 0.7
    assert fwd.distribution[[2, 7]].min() > 0.05
    # mode seeking: the reverse fit sits on the larger peak and gives the other almost nothing
    assert abs(rev.location - 2.0) < 0.1 and rev.width < 1.0
    assert rev.distribution[6:].sum() < 1e-3
    # each fit is worse than the other in the other's direction
    assert float(kdbook.kl_divergence(p, rev.distribution)) > fwd.divergence
    assert float(kdbook.kl_divergence(fwd.distribution, p)) > rev.divergence


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (lambda: single_peak(1.0, 0.0, n_classes=3), ValueError, "width must be > 0"),
        (lambda: single_peak(np.nan, 1.0, n_classes=3), ValueError, "location must be finite"),
        (lambda: single_peak(1.0, 1.0, n_classes=1), ValueError, "n_classes must be >= 2"),
        (lambda: single_peak([1.0, 2.0], [1.0, 2.0, 3.0], n_classes=3), ValueError, "must broadcast"),
        (lambda: fit_single_peak([0.5, 0.6]), ValueError, "teacher must sum to 1"),
        (lambda: fit_single_peak([[0.5, 0.5]]), ValueError, "teacher must be 1-D"),
        (lambda: fit_single_peak([0.5, 0.5], direction="both"), ValueError, "direction must be one of"),
        (lambda: fit_single_peak([0.5, 0.5], widths=[]), ValueError, "widths must be a non-empty 1-D grid"),
        (lambda: fit_single_peak([0.5, 0.5], widths=[-1.0]), ValueError, "widths must be > 0"),
        (lambda: single_peak("a", 1.0, n_classes=3), TypeError, "location must be an array of numbers"),
    ],
)
def test_bad_input_is_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call()
