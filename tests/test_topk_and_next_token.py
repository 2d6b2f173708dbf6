"""kdbook.lm.topk, kdbook.lm.next_token, their figures and the chapter-6 explorer widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kdbook  # noqa: E402
from kdbook.lm.next_token import next_token_state  # noqa: E402
from kdbook.plotting.language import plot_next_token_panels, plot_next_token_state, plot_storage_tradeoff  # noqa: E402
from kdbook.lm.topk import bytes_per_position, tempered, top_k_logprobs  # noqa: E402
from kdbook.widgets.next_token import next_token_explorer  # noqa: E402


def _loop_top_k(p, k, rest):
    """Rebuild one distribution from its top k with plain Python (the definition, term by term)."""
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))[:k]
    kept = sum(p[i] for i in order)
    if rest == "renormalise":
        return [p[i] / kept if i in order else 0.0 for i in range(len(p))]
    return [p[i] if i in order else (1 - kept) / (len(p) - k) for i in range(len(p))]


@pytest.mark.parametrize("rest", ["renormalise", "bucket"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_top_k_matches_the_definition(rest, k):
    rng = np.random.default_rng(k)
    logits = rng.normal(scale=2.0, size=(4, 3, 7))
    got = np.exp(top_k_logprobs(logits, k, rest=rest))
    p = kdbook.softmax(logits)
    for idx in np.ndindex(4, 3):
        np.testing.assert_allclose(got[idx], _loop_top_k(list(p[idx]), k, rest), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-12)


def test_full_teacher_and_infinite_kls():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 9))
    np.testing.assert_allclose(np.exp(top_k_logprobs(logits, None)), kdbook.softmax(logits), rtol=1e-12)
    np.testing.assert_allclose(np.exp(top_k_logprobs(logits, 9)), kdbook.softmax(logits), rtol=1e-12)
    p, q = kdbook.softmax(logits), kdbook.softmax(rng.normal(size=(5, 9)))
    renorm = np.exp(top_k_logprobs(logits, 3))
    bucket = np.exp(top_k_logprobs(logits, 3, rest="bucket"))
    assert np.isinf(kdbook.kl_divergence(q, renorm)).all()  # reverse KL against a renormalised top-k
    assert np.isinf(kdbook.kl_divergence(p, renorm)).all()
    assert np.isfinite(kdbook.kl_divergence(q, bucket)).all()
    # KL(p̃‖p) = −log Σ_top-k p for the renormalised teacher
    mass = np.sort(p, axis=-1)[:, -3:].sum(-1)
    np.testing.assert_allclose(kdbook.kl_divergence(renorm, p), -np.log(mass), rtol=1e-10)


def test_bytes_and_bad_arguments():
    assert bytes_per_position(1, 51) == 2 and bytes_per_position(1, 51, rest="bucket") == 4
    assert bytes_per_position(20, 51, rest="bucket") == bytes_per_position(20, 51) == 80
    with pytest.raises(ValueError, match="id_bytes"):
        bytes_per_position(5, 128_256)
    assert bytes_per_position(5, 128_256, id_bytes=3) == 25
    assert bytes_per_position(51, 51) == bytes_per_position(None, 51) == 102
    assert bytes_per_position(3, 10, id_bytes=4, value_bytes=4) == 24
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_k_logprobs(np.zeros(3), 0)
    with pytest.raises(ValueError, match="rest must be one of"):
        top_k_logprobs(np.zeros(3), 1, rest="drop")
    with pytest.raises(ValueError, match="teacher_logits must be finite"):
        top_k_logprobs([0.0, np.nan], 1)
    with pytest.raises(ValueError, match="T must be > 0"):
        tempered(np.zeros(3), 0.0)
    np.testing.assert_allclose(tempered([0.0, -np.inf, np.log(3.0)], 1.0), [0.25, 0.0, 0.75])


def test_next_token_state_by_hand():
    s = next_token_state(np.log([0.6, 0.3, 0.1]), np.zeros(3), words=["a", "b", "c"], T=1.0, k=2, top=2)
    assert s.labels == ("a", "b") and s.shown.tolist() == [0, 1]
    np.testing.assert_allclose(s.stored, [2 / 3, 1 / 3, 0.0])
    # KL([2/3, 1/3, 0] ‖ uniform) = 2/3 ln 2 + 1/3 ln 1 = ln 3 − H([2/3, 1/3])
    np.testing.assert_allclose(s.kl_stored, np.log(3) + (2 / 3) * np.log(2 / 3) + (1 / 3) * np.log(1 / 3))
    assert s.reverse_kl_stored == np.inf
    hot = next_token_state(np.log([0.6, 0.3, 0.1]), np.zeros(3), words=["a", "b", "c"], T=2.0)
    np.testing.assert_allclose(hot.teacher, np.sqrt([0.6, 0.3, 0.1]) / np.sqrt([0.6, 0.3, 0.1]).sum())
    assert hot.k is None and hot.kl_full == hot.kl_stored
    with pytest.raises(ValueError, match="words must name the 3 tokens"):
        next_token_state(np.zeros(3), np.zeros(3), words=["a"])
    with pytest.raises(ValueError, match="teacher_logits must be 1-D"):
        next_token_state(np.zeros((2, 3)), np.zeros(3), words="abc")


def test_figures_show_the_numbers_they_are_given():
    out = plot_next_token_panels({"<s>": [0.1, 0.6, 0.3], "<s> the": [0.5, 0.25, 0.25]}, ["x", "y", "z"], top=2)
    assert [round(b.get_width(), 2) for b in out.artists["bars"]["<s>"]] == [0.6, 0.3]
    ticks = {t.get_position()[1]: t.get_text() for t in out.axes[0].get_yticklabels()}
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == ["y", "z"]  # most probable on top
    trade = plot_storage_tradeoff({"renormalised": [4, 20, 102], "bucket": [6, 22, 102]},
                                  {"renormalised": [np.inf, np.inf, 0.0], "bucket": [0.8, 0.05, 0.0]}, ["1", "5", "all"])
    assert trade.artists["infinite"]["renormalised"] is not None and trade.artists["infinite"]["bucket"] is None
    assert np.isnan(trade.artists["lines"]["renormalised"].get_ydata()[:2]).all()
    noisy = plot_storage_tradeoff({"bucket": [6, 22, 102]}, {"bucket": [0.8, 1e-16, 0.0]}, ["1", "5", "all"])
    y = noisy.artists["lines"]["bucket"].get_ydata()
    assert y[1] == y[2] == noisy.ax.get_ylim()[0] and noisy.ax.get_ylim()[0] >= 1e-3  # rounding noise is 0
    labels = [t.get_text() for t in noisy.ax.get_yticklabels()]
    assert labels[0] == "0" and labels[-1] == "∞"
    s = next_token_state(np.log([0.6, 0.3, 0.1]), np.zeros(3), words=["a", "b", "c"], k=2, prefix="<s> the")
    fig = plot_next_token_state(s)
    assert [round(b.get_height(), 4) for b in fig.artists["bars"]["teacher"]] == [0.6, 0.3, 0.1]
    assert "KL(student‖stored) ∞" in fig.ax.get_title() and "“<s> the”" in fig.ax.get_title()
    with pytest.raises(ValueError, match="must sum to 1"):
        plot_next_token_panels({"x": [0.5, 0.1]}, ["a", "b"])
    with pytest.raises(TypeError, match="state must be a NextTokenState"):
        plot_next_token_state({"T": 1})


def test_explorer_widget_redraws_for_every_control():
    words = ["a", "b", "c", "d"]
    teacher = {"one": np.log([0.4, 0.3, 0.2, 0.1]), "two": np.log([0.1, 0.2, 0.3, 0.4])}
    student = {"one": np.zeros(4), "two": np.array([1.0, 0.0, 0.0, 0.0])}
    box = next_token_explorer(teacher, student, words=words, k="2")
    controls, out = box.children
    assert isinstance(out, widgets.Output) and len(out.outputs) == 1
    prefix, t_slider = controls.children[0].children
    k_slider, rest = controls.children[1].children
    assert k_slider.value == "2" and rest.value == "renormalise"
    for control, value in ((prefix, "two"), (t_slider, 2.0), (k_slider, "all"), (rest, "bucket")):
        control.value = value  # each change recomputes and redraws without error
    with pytest.raises(ValueError, match="k must be one of"):
        next_token_explorer(teacher, student, words=words, k="4")
    with pytest.raises(ValueError, match="same prefixes"):
        next_token_explorer(teacher, {"one": np.zeros(4)}, words=words)


def test_explorer_names_the_empty_prefix():
    """Issue 28 (8): the menu's first item (the start of a sentence) is named, not blank, in the menu and title."""
    words = ["a", "b", "c"]
    teacher = {"": np.log([0.5, 0.3, 0.2]), "<s> a": np.log([0.2, 0.3, 0.5])}
    student = {"": np.zeros(3), "<s> a": np.zeros(3)}
    box = next_token_explorer(teacher, student, words=words)
    menu = box.children[0].children[0].children[0]
    assert menu.label == "the start of a sentence" and menu.value == ""
    assert tuple(label for label, _ in menu.options) == ("the start of a sentence", "“<s> a”")
    title = plot_next_token_state(next_token_state(teacher[""], student[""], words=words, prefix="")).axes[0].get_title()
    assert title.startswith("after the start of a sentence ·") and "“”" not in title
