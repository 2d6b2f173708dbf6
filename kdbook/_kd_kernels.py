"""Row kernels of the distillation loss: per-row soft divergences and their gradients (private).

Each kernel works on 2-D (rows, classes) blocks of log-probabilities and probabilities of the
teacher (``log_p``, ``p``) and the student (``log_q``, ``q``) at temperature T, and returns the
per-row divergence and, if wanted, its gradient with respect to u = z/T (``kdbook.losses``
applies the T² and 1/T factors). Everything is computed from log-probabilities, so it stays
finite where probabilities underflow.
"""
from __future__ import annotations

import numpy as np


__all__ = ["soft_block", "log_mixture"]


def log_mixture(log_a: np.ndarray, log_b: np.ndarray, w: float) -> np.ndarray:
    """log(w·a + (1−w)·b) from log a and log b, for 0 < w < 1.

    Written as max + log1p(w_small·expm1(−|log a − log b|)), with w_small the weight of the
    smaller of the two: exactly log a when a = b, and no underflow where a and b are both tiny.
    """
    d = log_a - log_b
    weight_small = np.where(d >= 0, d.dtype.type(1.0 - w), d.dtype.type(w))
    np.abs(d, out=d)
    np.negative(d, out=d)
    np.expm1(d, out=d)
    d *= weight_small
    np.log1p(d, out=d)
    d += np.maximum(log_a, log_b)
    return d


def _project(g: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Chain rule through the softmax, in place: ∂D/∂u_j = q_j (g_j − Σ_k q_k g_k) for g = ∂D/∂q."""
    g -= (q * g).sum(axis=-1, keepdims=True)
    g *= q
    return g


def _forward(log_p, p, log_q, q, want_grad, w):
    """KL(p‖q); gradient q − p."""
    d = log_p - log_q
    d *= p
    value = d.sum(axis=-1)
    if not want_grad:
        return value, None
    np.subtract(q, p, out=d)
    return value, d


def _reverse(log_p, p, log_q, q, want_grad, w):
    """KL(q‖p); gradient q_j (log q_j − log p_j − KL(q‖p))."""
    d = log_q - log_p
    value = (q * d).sum(axis=-1)
    if not want_grad:
        return value, None
    d -= value[:, None]
    d *= q
    return value, d


def _gjsd(log_p, p, log_q, q, want_grad, beta):
    """JSD(β) = β KL(p‖m) + (1−β) KL(q‖m), m = βp + (1−β)q; ∂/∂q_j = (1−β) log(q_j/m_j)."""
    log_m = log_mixture(log_p, log_q, beta)
    b = log_m.dtype.type(beta)
    value = b * (p * (log_p - log_m)).sum(axis=-1) + (1 - b) * (q * (log_q - log_m)).sum(axis=-1)
    if not want_grad:
        return value, None
    g = log_q - log_m
    g *= 1 - b
    return value, _project(g, q)


def _skew_forward(log_p, p, log_q, q, want_grad, alpha):
    """KL(p‖m), m = αp + (1−α)q (DistiLLM); ∂/∂q_j = −(1−α) p_j/m_j."""
    if alpha == 0.0:
        return _forward(log_p, p, log_q, q, want_grad, None)
    log_m = log_mixture(log_p, log_q, alpha)
    d = log_p - log_m  # ≤ −log α: p/m is bounded, so KL stays finite where q has no support
    value = (p * d).sum(axis=-1)
    if not want_grad:
        return value, None
    # q_j ∂/∂q_j = −(1−α) q_j p_j/m_j =: −(1−α) r_j, so ∂/∂u_j = (1−α)(q_j Σ_k r_k − r_j).
    d += log_q
    r = np.exp(d, out=d)
    g = q * r.sum(axis=-1, keepdims=True)
    g -= r
    g *= g.dtype.type(1.0 - alpha)
    return value, g


def _skew_reverse(log_p, p, log_q, q, want_grad, alpha):
    """KL(q‖m), m = αq + (1−α)p (DistiLLM); ∂/∂q_j = log(q_j/m_j) + 1 − α q_j/m_j."""
    if alpha == 0.0:
        return _reverse(log_p, p, log_q, q, want_grad, None)
    log_m = log_mixture(log_q, log_p, alpha)
    d = log_q - log_m  # ≤ −log α
    value = (q * d).sum(axis=-1)
    if not want_grad:
        return value, None
    g = np.exp(d)
    g *= g.dtype.type(-alpha)
    g += d  # the constant 1 cancels in the softmax chain rule
    return value, _project(g, q)


_KERNELS = {
    "forward": (_forward, None),
    "reverse": (_reverse, None),
    "jsd": (_gjsd, 0.5),
    "gjsd": (_gjsd, 0.5),
    "skew_forward": (_skew_forward, 0.1),
    "skew_reverse": (_skew_reverse, 0.1),
}


def soft_block(log_p, p, log_q, q, divergence: str, want_grad: bool, weight: float | None = None):
    """Per-row D(p, q) of the named divergence and, if wanted, ∂D/∂u (u = student logits / T).

    ``weight`` is β of ``"gjsd"`` or α of the skew divergences (ignored by the others).
    """
    kernel, default = _KERNELS[divergence]
    return kernel(log_p, p, log_q, q, want_grad, default if weight is None else weight)
