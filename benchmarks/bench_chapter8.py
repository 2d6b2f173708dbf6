"""Benchmark of chapter 8's interactive and grading paths against their targets.

Run from the repository root::

    .venv/bin/python benchmarks/bench_chapter8.py [--repeat 5]

Targets (issue 14): the explorer's computation per redraw (``mix_state``, a look-up in the
precomputed sweep) ≤ 50 ms (STYLE: "< 50 ms of computation"); a whole redraw (state, figure,
rendering to PNG as the widget does) is shown as a ratio to the same redraw of chapter 3's
temperature explorer, since matplotlib's drawing dominates both; grading the create item
``08.training_mix`` "fast, a few seconds" (here ≤ 3 s for one hidden test, the prompt-following
model already trained, as it is after the first test of a grading run). Prints the best-of-N
times, the ratio to each target and PASS/MISS. The machine's
other load shows in absolute times; the first-call cost of training the model is printed apart.
"""
from __future__ import annotations

import argparse
import io
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kdbook.lm import context as cd  # noqa: E402
from kdbook.lm import context_mix as cm  # noqa: E402
from kdbook.grading import ch08  # noqa: E402
from kdbook.lm.language import ToyLanguage  # noqa: E402
from kdbook.plotting.context import plot_mix_state  # noqa: E402
from kdbook.plotting.states import plot_temperature_state  # noqa: E402
from kdbook.states import temperature_state  # noqa: E402
from _timing import best  # noqa: E402




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lang = ToyLanguage()
    start = time.perf_counter()
    model = cd.train_original(lang, seed=0)
    train_s = time.perf_counter() - start
    sweep = cm.mix_sweep(model, lang, mixes=(0.0, 0.25, 0.5), epochs=6, seed=0)

    def state():
        cm.mix_state(sweep, 0.25, 3)

    def redraw():
        fig = plot_mix_state(cm.mix_state(sweep, 0.25, 3)).fig
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    def redraw_chapter3():
        res = plot_temperature_state(temperature_state(np.array([10.0, 6.0, 3.0, 0.0, -3.0]), 4.0))
        fig = getattr(res, "fig", None) or res[0]
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    ch08.original_model()  # the grader's model, trained once per grading process
    mix = np.arange(350) >= 175

    def grade_once():
        ch08.mix_outcome(mix, seed=1)

    ch3 = best(redraw_chapter3, args.repeat)
    rows = [("explorer computation (mix_state)", best(state, args.repeat), 0.050),
            ("whole redraw, target: chapter 3's whole redraw", best(redraw, args.repeat), ch3),
            ("grading 08.training_mix, one hidden test", best(grade_once, max(1, args.repeat // 2)), 3.0)]
    print(f"training the prompt-following model once: {train_s:.2f} s (first grading call only)")
    print(f"{'path':<48}{'best time':>12}{'target':>10}{'ratio':>8}")
    for name, t, target in rows:
        print(f"{name:<48}{t * 1e3:>10.1f}ms{target * 1e3:>8.0f}ms{t / target:>8.2f}  {'PASS' if t <= target else 'MISS'}")


if __name__ == "__main__":
    main()
