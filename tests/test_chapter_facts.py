"""Facts the chapters state, recomputed independently of kdbook and checked against the printed outputs.

Each test derives its numbers with scipy and closed-form formulas written here (never with the
kdbook function under test), then checks (a) the mathematical claim itself and (b) that the
number the committed notebook prints, and its prose relies on, is the independently derived one.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from kdbook.conventions import torch_style_kl_div

ROOT = Path(__file__).resolve().parents[1]
CH3 = ROOT / "notebooks" / "03_temperature_and_soft_targets.ipynb"
CH4 = ROOT / "notebooks" / "04_the_kd_loss.ipynb"


def printed(path: Path, needle: str) -> str:
    """The stdout a notebook's code cell printed; the cell is the one whose source contains ``needle``."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and needle in "".join(c["source"])]
    assert len(cells) == 1, f"expected one code cell containing {needle!r} in {path.name}, found {len(cells)}"
    text = "".join("".join(o.get("text", "")) for o in cells[0].get("outputs", []) if o["output_type"] == "stream")
    assert text, f"the cell containing {needle!r} in {path.name} printed nothing (not executed?)"
    return text


def neg_entropy(p: np.ndarray) -> np.ndarray:
    """Σ p log p per row, with 0·log 0 = 0 (scipy's xlogy)."""
    return scipy.special.xlogy(p, p).sum(axis=-1)


# ------------------------------------------------ chapter 4, trap 1: the sign of F.kl_div(q, p)

probability_rows = st.integers(2, 8).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k).filter(lambda w: sum(w) > 1e-3),
        st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k).filter(lambda w: sum(w) > 1e-3),
    )
)


@settings(max_examples=300, deadline=None)
@given(probability_rows)
def test_kl_div_with_probabilities_as_input_is_never_positive(pair):
    p = np.array(pair[0]) / sum(pair[0])  # teacher, zeros allowed
    q = np.array(pair[1]) / sum(pair[1])  # student probabilities passed where log q belongs
    value = float(torch_style_kl_div(q[None, :], p[None, :], reduction="batchmean"))
    formula = float(neg_entropy(p) - p @ q)  # −H(p) − Σ p·q
    assert value == pytest.approx(formula, abs=1e-12)
    assert value <= 1e-15


def test_kl_div_with_probabilities_is_zero_only_in_the_degenerate_case():
    p = np.array([[0.0, 1.0, 0.0]])  # one-hot teacher ...
    q = np.array([[0.6, 0.0, 0.4]])  # ... whose class the student rules out
    assert float(torch_style_kl_div(q, p, reduction="batchmean")) == 0.0


def test_kl_div_with_raw_logits_as_input_can_be_positive():
    v = np.array([[2.0, 0.5, -1.0, 0.0]])
    z = np.array([[-4.0, -5.0, -6.0, -5.5]])  # raw (unnormalised) student logits
    p = scipy.special.softmax(v, axis=-1)
    formula = float(neg_entropy(p)[0] - (p * z).sum())  # −H(p) − Σ p·z
    value = float(torch_style_kl_div(z, p, reduction="batchmean"))
    assert value == pytest.approx(formula, rel=1e-12)
    assert value > 3.0
    # the sign is arbitrary: the same student distribution, logits shifted up by 10, is negative
    shifted = float(torch_style_kl_div(z + 10.0, p, reduction="batchmean"))
    assert shifted == pytest.approx(formula - 10.0, rel=1e-12) and shifted < 0


def test_chapter_4_prints_the_independently_computed_trap_values():
    rng = np.random.default_rng(4)  # chapter 4's generator: v then z are its first draws
    v = rng.normal(scale=2.0, size=(4, 5))
    z = rng.normal(scale=2.0, size=(4, 5))
    T = 4.0
    p = scipy.special.softmax(v / T, axis=-1)
    q = scipy.special.softmax(z / T, axis=-1)
    as_probabilities = np.mean(neg_entropy(p) - (p * q).sum(axis=-1))
    out = printed(CH4, 'torch_style_kl_div(q_T, p_T, reduction="batchmean")')
    assert re.search(rf"probabilities, no log: {as_probabilities:.4f}\n", out), out
    assert as_probabilities < 0
    out = printed(CH4, "raw logits z/T")
    for shift in (0.0, -3.0):
        raw = np.mean(neg_entropy(p) - (p * (z / T + shift)).sum(axis=-1))
        assert f"raw logits z/T {shift:+.0f} as input: {raw:+.4f}" in out, out
    assert np.mean(neg_entropy(p) - (p * (z / T - 3.0)).sum(axis=-1)) > 0  # the positive case


# ------------------------------------------------ chapter 3: where the truck's probability peaks


def test_truck_peak_temperature():
    v = np.array([10.0, 6.0, 3.0, 0.0, -3.0])
    res = scipy.optimize.minimize_scalar(
        lambda T: -scipy.special.softmax(v / T)[1], bounds=(1.0, 50.0), method="bounded",
        options={"xatol": 1e-10},
    )
    T_star, p_star = float(res.x), float(-res.fun)
    assert T_star == pytest.approx(7.0649, abs=5e-4)  # not the grid point 7.26 (nor "7.3")
    # the stationarity condition the chapter derives: expected logit = the truck's logit
    assert scipy.special.softmax(v / T_star) @ v == pytest.approx(6.0, abs=1e-6)
    out = printed(CH3, "def expected_logit(T):")
    assert f"expected logit = 6 at T = {T_star:.4f}: the truck's peak, p = {p_star:.6f}" in out, out


# ------------------------------------------------ chapter 3: how the unscaled gradient shrinks with T


def _mean_unscaled_gradient_norm(v, z, T):
    """Mean row norm of ∂KL(p_T‖q_T)/∂z = (q_T − p_T)/T, from the closed form (no kdbook, no finite differences)."""
    q = scipy.special.softmax(z / T, axis=-1)
    p = scipy.special.softmax(v / T, axis=-1)
    return float(np.linalg.norm((q - p) / T, axis=1).mean())


def test_t_squared_measurement():
    rng = np.random.default_rng(3)  # chapter 3's generator: v_batch then z_batch are its first draws
    v = rng.normal(scale=2.0, size=(16, 10))
    z = rng.normal(scale=2.0, size=(16, 10))
    T_grid = np.geomspace(1.0, 50.0, 12)
    g = np.array([_mean_unscaled_gradient_norm(v, z, T) for T in T_grid])
    shrink = g[0] / g
    # the informative numbers: less than T² at every T > 1, approaching it only asymptotically
    assert shrink[-1] == pytest.approx(2172.4, abs=0.1)  # T = 50, T² = 2500
    assert shrink[3] == pytest.approx(7.13, abs=0.005)  # T ≈ 2.906, T² ≈ 8.45
    assert np.all(shrink[1:] < T_grid[1:] ** 2)
    # why: T·(q_T − p_T) tends to ((z − v) − mean)/K, and at T = 1 it is below that limit
    d = z - v
    limit = float(np.linalg.norm(d - d.mean(axis=1, keepdims=True), axis=1).mean() / 10)
    assert T_grid[-1] ** 2 * g[-1] == pytest.approx(limit, rel=0.01)
    assert g[0] < limit
    out = printed(CH3, "shrink since T = 1")
    for i in [0, 3, 6, 9, 11]:
        row = f"{T_grid[i]:5.2f}  {T_grid[i] ** 2 * g[i]:8.4f}   {g[i]:10.6f}   {shrink[i]:18.2f}  {T_grid[i] ** 2:8.2f}"
        assert row in out, f"expected the row {row!r} in\n{out}"
    assert f"mean ‖(z − v) − mean(z − v)‖ / K: {limit:.4f}" in out
    assert f"‖q_T − p_T‖ shrinking: {shrink[-1] / 50:.1f}-fold" in out


# ------------------------------------------------ chapter 4, section 4: the w = 0 row


def test_w0_row_climbs_past_the_limit_and_approaches_it_from_above():
    v = np.array([6.0, 2.0, 1.0, -2.0, -4.0])
    z = np.array([1.0, 2.0, 1.5, 0.0, 1.0])

    def t2_kl(T):
        p, q = scipy.special.softmax(v / T), scipy.special.softmax(z / T)
        return T * T * float(scipy.special.rel_entr(p, q).sum())

    temperatures = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0]
    row = np.array([t2_kl(T) for T in temperatures])
    d = z - v
    limit = float(((d - d.mean()) ** 2).sum() / (2 * len(d)))
    assert limit == pytest.approx(5.3, abs=1e-12)
    assert temperatures[int(row.argmax())] == 8.0
    assert row[4] == pytest.approx(5.2590, abs=5e-5) and row[6] == pytest.approx(5.5495, abs=5e-5)
    assert row[-1] == pytest.approx(5.4648, abs=5e-5)
    assert np.all(np.diff(row[:7]) > 0) and np.all(np.diff(row[6:]) < 0)
    assert limit < t2_kl(1000.0) < row[-1]  # from above
    out = printed(CH4, "T²·KL(p_T‖q_T) =")
    assert "  T²·KL(p_T‖q_T) =  " + "".join(f"{x:8.4f}" for x in row) in out, out
    assert f"T = 1000 gives {t2_kl(1000.0):.4f}" in out


def test_chapter_6_facts_about_the_toy_teacher_hold():
    # Section 1 and 4 of chapter 6 explain printed numbers by facts of the grammar; recheck them.
    from kdbook.lm import ToyLanguage

    lang = ToyLanguage()
    held = lang.sample(2000, seed=1000)
    p = np.exp(lang.logits(held.inputs))[held.mask]
    row_min = p.min(axis=1, keepdims=True)
    allowed = (p > row_min * 1.001).sum(axis=1)  # tokens above this position's floor
    assert allowed.max() < 20  # "the grammar allows fewer than 20 tokens" at every position
    floor = np.median(row_min[allowed > 1])
    assert 51 * floor == pytest.approx(0.003, rel=1e-6)  # "a small floor probability (0.3 % in all)"
    shown = ["", "the big dog", "two dogs chase the cat and"]
    nxt = np.exp(lang.next_logprobs(lang.prefixes(shown)))
    top = np.sort(nxt, axis=1)[:, ::-1]
    assert lang.words[nxt[0].argmax()] == "the" and nxt[0].max() < 0.5  # the mode has less than half the mass
    assert top[1, :3].sum() == pytest.approx(0.86, abs=0.01)
    assert top[1, 3] > 0.1 > top[1, 4] and top[2, 3] > 0.1 > top[2, 4]  # four verbs share the mass
    # Beam search from <s> and two words takes at most 11 steps: 12 − 2 more words, then </s>.
    assert lang.max_len == 12
    storage = printed(ROOT / "notebooks" / "06_distilling_a_language_model.ipynb", "top_k_logprobs(lp_t, k")
    row = next(line.split() for line in storage.splitlines() if line.split()[:2] == ["20", "bucket"])
    assert row[3] == "0.0000"
