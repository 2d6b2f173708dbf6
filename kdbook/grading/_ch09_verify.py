"""Chapter 9's accept/reject item, 9.2: its exact sweep, its judge and the slips it names (private).

``kdbook.grading.ch09`` declares the item; this module grades it. For every draft token the judge
sweeps both uniforms over the cells that the rule's breakpoints (p(x)/q(x) and the cumulative sums of
the residual, of p and of q) and a uniform grid cut [0, 1] into, so a correct step is integrated
exactly (to 1e-9); it checks the emitted token's law and its joint law with the draft, and names the
slips chapter 9 warns about when an answer makes one.
"""
from __future__ import annotations

import numpy as np

from . import _draw
from ._core import Call, Fail, expect_close

#: Uniform grid cells per axis of the sweep (added to the exact breakpoints).
GRID = 50

# --------------------------------------------------------------------------- 9.2 the accept/reject step

def _pq_pair(rng, B, V):
    """Rows of (p, q) whose residual differs from p by a clear margin (so the shortcut is visibly wrong)."""
    ps, qs = [], []
    while len(ps) < B:
        p, q = _draw.probs(rng, (V,)), _draw.probs(rng, (V,))
        if rng.random() < 0.3:  # a token the target never emits
            p[rng.integers(V)] = 0.0
            p /= p.sum()
        alpha = np.minimum(p, q).sum()
        r = np.maximum(p - q, 0.0) / max(1e-12, np.maximum(p - q, 0.0).sum())
        if (1 - alpha) * np.abs(r - p).max() > 0.05:
            ps.append(p)
            qs.append(q)
    return np.array(ps), np.array(qs)


def _cells(points) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints and lengths of the cells [0, 1] splits into at ``points`` and at a uniform grid of GRID."""
    edges = np.unique(np.clip(np.r_[0.0, 1.0, np.linspace(0, 1, GRID + 1), points], 0.0, 1.0))
    return (edges[1:] + edges[:-1]) / 2, np.diff(edges)


def _sweep(p: np.ndarray, q: np.ndarray):
    """Every (row, draft x, u, v) the exact sweep calls, with each one's probability weight.

    u is cut at every p(x)/q(x) and v at every cumulative sum of the residual, of p and of q, so
    any rule whose decisions change only there is integrated exactly (midpoints of the cells).
    """
    parts = []
    for b in range(p.shape[0]):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(q[b] > 0, p[b] / q[b], 2.0)
        r = np.maximum(p[b] - q[b], 0.0)
        cuts_v = np.r_[np.cumsum(r) / r.sum(), np.cumsum(p[b]), np.cumsum(q[b])]
        (um, ul), (vm, vl) = _cells(ratio), _cells(cuts_v)
        V = p.shape[1]
        xx, iu, iv = np.meshgrid(np.arange(V), np.arange(um.size), np.arange(vm.size), indexing="ij")
        xx, iu, iv = xx.ravel(), iu.ravel(), iv.ravel()
        parts.append((np.full(xx.size, b), xx, um[iu], vm[iv], q[b, xx] * ul[iu] * vl[iv]))
    bb, xx, u, v, w = (np.concatenate(c) for c in zip(*parts))
    return bb, xx, u, v, w


def _verify_cases(*specs):
    def cases(rng):
        out = []
        for B, V in specs:
            p, q = _pq_pair(rng, B, V)
            bb, xx, u, v, _ = _sweep(p, q)
            out.append(Call((p[bb], q[bb], xx, u, v)))
        return out
    return cases


def _inverse_cdf(weights, v):
    return np.minimum((np.cumsum(weights, axis=1) <= v[:, None]).sum(axis=1), weights.shape[1] - 1)


def _residual_draw(P, Q, X, U, V, residual, accept_ratio_flipped=False):
    rows = np.arange(len(X))
    accept = U * P[rows, X] < Q[rows, X] if accept_ratio_flipped else U * Q[rows, X] < P[rows, X]
    return np.where(accept, X, _inverse_cdf(residual, V))


#: The slips chapter 9 warns about, as the tokens each would emit on the judge's sweep, and their names.
_SLIPS = (
    (lambda P, Q, X, U, V: _residual_draw(P, Q, X, U, V, P),
     "after a rejection you drew from p itself: draw from the residual max(0, p − q), normalised"),
    (lambda P, Q, X, U, V: _residual_draw(P, Q, X, U, V, np.maximum(Q - P, 0) / np.maximum(Q - P, 0).sum(1, keepdims=True)),
     "the residual is max(0, q − p): it must be max(0, p − q), the target's mass the draft under-covers"),
    (lambda P, Q, X, U, V: _residual_draw(P, Q, X, U, V, np.maximum(P - Q, 0) / np.maximum(P - Q, 0).sum(1, keepdims=True),
                                          accept_ratio_flipped=True),
     "the acceptance ratio is upside down: keep x with probability min(1, p(x)/q(x)), target over draft"),
    (lambda P, Q, X, U, V: _residual_draw(P, Q, X, U, V, np.maximum(P - Q, 0)),
     "the residual max(0, p − q) is not normalised: divide it by its sum (1 − α) before drawing from it"),
    (lambda P, Q, X, U, V: _inverse_cdf(P, V), "your token does not depend on the draft x: it is a fresh draw from p"),
    (lambda P, Q, X, U, V: _inverse_cdf(P, U), "your token does not depend on the draft x: it is a fresh draw from p"),
    (lambda P, Q, X, U, V: X, "every draft token is accepted: test u < p(x)/q(x) first"),
)


def _judge_verify(calls, outs):
    for call, out in zip(calls, outs):
        try:
            _judge_verify_one(call, out)
        except Fail as err:
            P, Q, X, U, Vv = call.args
            tok = np.asarray(out)
            why = next((text for rule, text in _SLIPS if tok.shape == X.shape
                        and np.array_equal(tok, rule(P, Q, X, U, Vv))), None)
            if why and why not in str(err):
                raise Fail(f"{err}: {why}") from None
            raise


def _judge_verify_one(call, out):
    """One call of 9.3's judge (``_judge_verify`` names a slip when the answer makes one)."""
    P, Q, X, U, Vv = call.args
    starts = np.r_[0, np.flatnonzero((np.diff(P, axis=0) != 0).any(axis=1) | (np.diff(Q, axis=0) != 0).any(axis=1)) + 1]
    p, q = P[starts], Q[starts]
    bb, xx, _, _, w = _sweep(p, q)
    B, V = p.shape
    what = "accept_reject(p, q, x, u, v)"
    tok = np.asarray(out)
    n = len(X)
    if tok.shape != (n,) or not np.issubdtype(tok.dtype, np.integer):
        raise Fail(f"{what} should return one integer token id per row, shape ({n},); got {tok.dtype} {tok.shape}")
    if tok.min() < 0 or tok.max() >= V:
        raise Fail(f"{what} returned a token id outside 0 … {V - 1}")
    got = np.zeros((B, V))
    np.add.at(got, (bb, tok), w)
    alpha = np.minimum(p, q).sum(axis=1, keepdims=True)
    shortcut = np.minimum(p, q) + (1 - alpha) * p
    expect_close(got, p, f"the distribution of the token {what} emits (exact, over every x, u and v)",
                 rtol=0, atol=1e-9, suspects=(
        (shortcut, "after a rejection you drew from p itself: draw from the residual max(0, p − q), normalised"),
        (q, "this is the draft's distribution q: the accept test should keep x with probability min(1, p(x)/q(x))"),
    ))
    # the same sweep, joint with the draft: P(draft x and x emitted) = q(x) min(1, p(x)/q(x)) = min(p, q)(x),
    # since a rejected x has p(x) < q(x), so the residual never gives it back. A rule that ignores x (a
    # fresh draw from p) has the right marginal but emits x with q(x) p(x): no speculation at all.
    kept = np.zeros((B, V))
    hit = tok == xx
    np.add.at(kept, (bb[hit], xx[hit]), w[hit])
    expect_close(kept, np.minimum(p, q), f"P(draft x, and {what} emits x), exact over every x, u and v",
                 rtol=0, atol=1e-9, suspects=(
        (p * q, "your token does not depend on the draft x: an accepted draft must be emitted as it is "
                "(u < p(x)/q(x) keeps x); only a rejection draws a new token"),
    ))
