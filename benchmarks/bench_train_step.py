"""Per-step time of kdbook's training step before and after issue 23's validated loss core.

Before: every step validated T, the divergence, the labels, the teacher logits and the mask again
inside the public ``kdbook.kd_loss_and_grad``, and ``train_step`` ran an extra forward pass on one
example to learn the batch shape. After: ``train``/``train_step`` validate once and call the core
(``kdbook._kd_core.kd_core``); ``train_step`` learns the shape from its own forward pass.

The "before" path is rebuilt here from public pieces (probe forward + validating loss), so both are
timed in one run on the same machine; read the ratio. Two steps are timed: a supervised step of a
chapter-6 WindowLM on teacher samples, and an on-policy (GKD, λ = 0.5) step of chapter 7 (student
sampling included). Run: ``.venv/bin/python benchmarks/bench_train_step.py``.
"""
from __future__ import annotations

import numpy as np
from _timing import best

import kdbook
from kdbook.lm import ToyLanguage, WindowLM
from kdbook.lm.onpolicy import gkd_batch
from kdbook.lm.policy import free_mask
from kdbook.optim import Adam
from kdbook.train import train_step


def old_step(model, opt, X, teacher_logits, mask):
    """The pre-issue-23 step: a probe forward on X[:1], then forward, the validating public loss, backward."""
    model.logits(X[:1])
    z = model.forward(X)
    _, grad = kdbook.kd_loss_and_grad(z, teacher_logits, T=1.0, reduction="tokenmean", mask=mask)
    opt.step(model.backward(grad))


def main() -> None:
    lang = ToyLanguage()
    data = lang.sample(64, seed=1)
    student = WindowLM(lang.vocab, seed=0)
    opt = Adam(student.params, lr=0.001)
    v = lang.logits(data.inputs)
    new = best(lambda: train_step(student, opt, data.inputs, teacher_logits=v, mask=data.mask), repeat=15)
    old = best(lambda: old_step(student, opt, data.inputs, v, data.mask), repeat=15)
    print(f"supervised step (64 sentences):  before {old * 1e3:7.2f} ms   after {new * 1e3:7.2f} ms   "
          f"after/before {new / old:.2f}")

    order = np.random.default_rng(0).permutation(len(data))

    def on_policy(step_fn):
        batch, _, _ = gkd_batch(student, data, order, 0, batch_size=32, lam=0.5, seed=3)
        free = free_mask(batch, lang.vocab.max_len)
        step_fn(batch, lang.logits(batch.inputs), free)

    new_on = best(lambda: on_policy(lambda b, t, m: train_step(student, opt, b.inputs, teacher_logits=t, mask=m)))
    old_on = best(lambda: on_policy(lambda b, t, m: old_step(student, opt, b.inputs, t, m)))
    print(f"on-policy step (32 sentences):   before {old_on * 1e3:7.2f} ms   after {new_on * 1e3:7.2f} ms   "
          f"after/before {new_on / old_on:.2f}")


if __name__ == "__main__":
    main()
