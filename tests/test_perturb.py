"""KDBOOK_PERTURB multiplies every model's initial weights by (1 + size·ε) and changes nothing else.

The unperturbed weights are recomputed here from the documented initialisation (N(0, g²/fan_in)
for the MLP; E ~ N(0, 1), W ~ N(0, 1/(n·d)), U ~ N(0, 1/H) for WindowLM), not read back from
the code under test.
"""
from __future__ import annotations

import numpy as np
import pytest

from kdbook.lm import ToyLanguage
from kdbook.lm import WindowLM
from kdbook.classify.models import MLP, softmax_regression

SIZES = [2, 16, 16, 3]


def _mlp_expected(sizes, seed, gain=2.0):
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        out += [rng.normal(scale=np.sqrt(gain / fan_in), size=(fan_in, fan_out)), np.zeros(fan_out)]
    return out


def _models():
    """(name, builder) of every model initialiser in kdbook."""
    lang = ToyLanguage()
    return [
        ("MLP relu", lambda seed: MLP(SIZES, seed=seed)),
        ("MLP tanh", lambda seed: MLP(SIZES, activation="tanh", seed=seed)),
        ("softmax_regression", lambda seed: softmax_regression(20, 5, seed=seed)),
        ("WindowLM", lambda seed: WindowLM(lang, window=2, hidden=16, seed=seed)),
        ("WindowLM context+soft prompt", lambda seed: WindowLM(lang, window=3, hidden=8, context=True,
                                                              soft_prompt=True, seed=seed)),
    ]


def _weights(model):
    return [p for g in model.groups.values() for p in g] if hasattr(model, "groups") else list(model.params)


def test_unset_or_empty_is_bit_identical_to_the_documented_initialisation(monkeypatch):
    for value in (None, "", "0"):
        if value is None:
            monkeypatch.delenv("KDBOOK_PERTURB", raising=False)
        else:
            monkeypatch.setenv("KDBOOK_PERTURB", value)
        for got, want in zip(MLP(SIZES, seed=3).params, _mlp_expected(SIZES, 3), strict=True):
            assert np.array_equal(got, want)
        lang = ToyLanguage()
        rng = np.random.default_rng(5)
        V, T, d, H, n = lang.n_classes, lang.vocab.n_tokens, 16, 8, 2
        want = [rng.normal(size=(T, d)), rng.normal(scale=np.sqrt(1 / (n * d)), size=(n * d, H)), np.zeros(H),
                rng.normal(scale=np.sqrt(1 / H), size=(H, V)), np.zeros(V)]
        got = _weights(WindowLM(lang, window=n, dim=d, hidden=H, seed=5))
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w)


@pytest.mark.parametrize("size", [1e-12, 1e-9, 1e-3])
@pytest.mark.parametrize("name,build", _models(), ids=[n for n, _ in _models()])
def test_set_changes_every_weight_by_the_relative_size(monkeypatch, size, name, build):
    monkeypatch.delenv("KDBOOK_PERTURB", raising=False)
    plain = _weights(build(7))
    monkeypatch.setenv("KDBOOK_PERTURB", repr(size))
    perturbed = _weights(build(7))
    rel = np.concatenate([((q - p) / p).ravel() for p, q in zip(plain, perturbed, strict=True) if np.any(p)]) / size
    # ε ~ N(0, 1): mean near 0, SD near 1 (hundreds of weights), no weight left untouched, none wild.
    assert rel.size >= 50
    assert abs(rel.mean()) < 0.3 and 0.8 < rel.std() < 1.2, (rel.mean(), rel.std())
    assert np.all(rel != 0) and np.abs(rel).max() < 6
    for p, q in zip(plain, perturbed):
        if not np.any(p):  # zero-initialised biases stay exactly zero
            assert not np.any(q)
    # a fixed generator: the same model gets the same perturbation again
    for a, b in zip(perturbed, _weights(build(7))):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name,build", _models(), ids=[n for n, _ in _models()])
def test_the_models_own_random_stream_is_not_touched(monkeypatch, name, build):
    draws = {}
    for value in ("", "1e-9"):
        monkeypatch.setenv("KDBOOK_PERTURB", value)
        rng = np.random.default_rng(11)
        build(rng)
        draws[value] = rng.random(5)  # what the model's seed stream gives after initialisation
    assert np.array_equal(draws[""], draws["1e-9"])


@pytest.mark.parametrize("bad", ["abc", "-1e-9", "nan", "inf", "1e-9x"])
def test_bad_value_is_a_clear_error_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv("KDBOOK_PERTURB", bad)
    for name, build in _models():
        with pytest.raises(ValueError, match="KDBOOK_PERTURB"):
            build(0)
