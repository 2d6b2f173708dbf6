"""Benchmark of chapter 6's interactive and training pieces.

Run from the repository root::

    .venv/bin/python benchmarks/bench_chapter6.py

It prints best-of-N wall-clock times with the ratio each budget asks for (issue 12):

* the explorer's computation per redraw (``next_token_state``) ≤ 50 ms (STYLE: "< 50 ms of
  computation");
* a whole redraw (state, ``plot_next_token_state``, rendering to PNG as the widget does), shown
  as a ratio to the same redraw of chapter 3's temperature explorer (matplotlib's drawing
  dominates both);
* one epoch of the chapter's student (1,000 sentences, mini-batches of 100), for scale.

Timings are the minimum over repeats; other load on the machine still shows, so compare the
ratios of one run.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kdbook.lm.language import ToyLanguage  # noqa: E402
from kdbook.lm import WindowLM  # noqa: E402
from kdbook.lm.next_token import next_token_state  # noqa: E402
from kdbook.plotting.language import plot_next_token_state  # noqa: E402
from kdbook.train import train  # noqa: E402
from _timing import best  # noqa: E402




def main() -> int:
    lang = ToyLanguage()
    student = WindowLM(lang, window=2, dim=16, hidden=32, seed=0)
    row = lang.prefixes(["two dogs chase the cat and"])
    v, z = lang.next_logprobs(row)[0], student.next_logprobs(row)[0]

    def state():
        return next_token_state(v, z, words=lang.words, T=2.0, k=5, rest="renormalise", prefix="two dogs")

    def redraw():
        fig = plot_next_token_state(state()).fig
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    corpus = lang.sample(1000, seed=0)

    def epoch():
        train(WindowLM(lang, window=2, dim=16, hidden=32, seed=0), corpus.inputs, corpus.targets, mask=corpus.mask,
              epochs=1, batch_size=100, lr=0.01)

    def chapter3_redraw():
        from kdbook.widgets import plot_temperature_state, temperature_state

        out = plot_temperature_state(temperature_state(np.array([2.0, 1.0, 0.1, -1.0]), 2.0))
        fig = out[0] if isinstance(out, tuple) else out.fig
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    redraw(), chapter3_redraw()  # warm up matplotlib
    computation = best(state)
    whole, reference = best(redraw), best(chapter3_redraw)
    print(f"{'explorer computation (next_token_state)':<45} {computation * 1e3:8.2f} ms  budget 50 ms: "
          f"{computation / 0.050:.3f}× → {'PASS' if computation <= 0.050 else 'MISS'}")
    print(f"{'whole redraw (state + figure + PNG)':<45} {whole * 1e3:8.2f} ms  "
          f"{whole / reference:.2f}× chapter 3's explorer redraw ({reference * 1e3:.1f} ms)")
    print(f"{'one training epoch of the chapter student':<45} {best(epoch, 3) * 1e3:8.2f} ms")
    from kdbook.lm import decoding
    from kdbook.lm.capacity import window2_floor
    from kdbook.lm.mode import exact_mode
    from kdbook.lm.sampled_storage import sampled_targets

    starts = np.unique(lang.vocab.prefix_rows(lang.sample(20000, seed=2000), 2), axis=0)
    lp = lang.logits(corpus.inputs)[corpus.mask]
    print(f"{'exact mode of 145 starts (dynamic programming)':<45} {best(lambda: exact_mode(lang, starts), 3) * 1e3:8.2f} ms")
    print(f"{'4-beam search of the same starts':<45} "
          f"{best(lambda: decoding.beam_search(lang, starts, beam_size=4), 3) * 1e3:8.2f} ms")
    print(f"{'window-2 capacity floor (exact)':<45} {best(lambda: window2_floor(lang), 3) * 1e3:8.2f} ms")
    print(f"{'10 sampled ids at every corpus position':<45} {best(lambda: sampled_targets(lp, 10), 3) * 1e3:8.2f} ms")
    return 0 if computation <= 0.050 else 1


if __name__ == "__main__":
    raise SystemExit(main())
