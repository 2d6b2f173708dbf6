"""How far the create items of chapters 1-7 pass, for the reference design and every valid alternative.

A valid design must never fail by seed luck: this script judges the solution notebook's design and each
VALID entry of tests/wrong_answers/chNN.py on many grading seeds (as ``python -m kdbook.grade --seed s``
draws them) and prints, per create item, the worst margin to each pass line. docs/grading.md quotes the
numbers. Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/create_margins.py [N_SEEDS] [CHAPTER ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_wrong_answers import _catalogue, answer_namespace  # noqa: E402

from kdbook import divergences as div  # noqa: E402
from kdbook.grading import ch01, ch02, ch03, ch04, ch05, ch06, engine, registry  # noqa: E402
from kdbook.grading.ch07_recipe import SPECS, recipe_scores  # noqa: E402
from kdbook.grading.spec import draw_calls  # noqa: E402
from kdbook.losses import kd_loss_and_grad  # noqa: E402
from kdbook.softmax import softmax  # noqa: E402


def reference(exercise_id: str):
    """The solution notebook's design: its function answer cells run in order (helpers included)."""
    chapter = exercise_id[:2]
    path = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))
    ns: dict = {"__name__": "__main__"}
    exec("import numpy as np\nimport kdbook", ns)
    functions = {ex.id for ex in registry.chapter_exercises(chapter) if ex.kind == "function"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and functions & set(cell.metadata.get("tags", [])):
            exec(compile(cell.source, str(path), "exec"), ns)
    return ns[registry.get(exercise_id).name]


def calls(ex, seed):
    return [c for t in ex.tests for c in draw_calls(ex, t, seed)], [
        (t.name, draw_calls(ex, t, seed)) for t in ex.tests]


# Each margin function returns {pass line: worst value over the seed's calls}; larger is safer unless noted.

def m01(design, seed):
    ex = registry.get("01.capped_student")
    share, excess = [], []
    for _, cs in calls(ex, seed)[1]:
        for c in cs:
            p, cap = c.args
            q = np.asarray(design(p, cap), dtype=float)
            mine, base, best = (float(div.kl_divergence(p, x)) for x in (q, ch01.spread_evenly(p, cap),
                                                                          ch01.best_capped(p, cap)))
            share.append((base - mine) / (base - best))  # pass line 0.5
            excess.append(mine - best)  # pass line 1e-6 (smaller is safer)
    return {"share of the gap to the baseline closed (pass ≥ 0.5)": min(share),
            "KL above the best capped student (pass ≤ 1e-6)": max(excess)}


def m02(design, seed):
    ex = registry.get("02.flag_collapse")
    wrong, gap = 0, []
    for _, cs in calls(ex, seed)[1]:
        for c in cs:
            p, q = c.args
            truth = ch02._collapsed(p, q)
            wrong += bool(design(p, q)) != truth
            gap.append((1 if truth else -1) * float(div.kl_divergence(p, q) - div.kl_divergence(q, p)))
    return {"pairs misjudged (pass = 0)": -wrong, "signed KL(p‖q) − KL(q‖p), nats (the solution's rule)": min(gap)}


def m03(design, seed):
    ex = registry.get("03.soft_targets")
    share, miss = [], []
    for name, cs in calls(ex, seed)[1]:
        for c in cs:
            v, bits = c.args
            q = np.asarray(design(v, bits), dtype=float)
            h = float(div.entropy(q, base=2))
            miss.append(abs(h - bits))
            if "label smoothing" in name:
                p = softmax(v)
                mine, base, best = (float(div.kl_divergence(x, p)) for x in (q, ch03.smoothed_to_entropy(p, h),
                                                                              ch03._tempered_to_entropy(v, h)))
                share.append((base - mine) / (base - best))
    return {"share of the gap to label smoothing closed (pass ≥ 0.5)": min(share),
            "entropy missed, bits (pass ≤ 5e-3)": -max(miss)}


def m04(design, seed):
    ex = registry.get("04.symmetric_kd")
    ratio = []
    for name, cs in calls(ex, seed)[1]:
        if "scale" not in name:
            continue
        for c in cs[::9]:  # the first call of each point: (z, v, T)
            z, v, T = c.args
            _, g = design(z, v, T)
            ratio.append(np.linalg.norm(g) / np.linalg.norm(kd_loss_and_grad(z, v, T=T)[1]))
    return {"gradient norm / T²·KL's, lowest (pass ≥ 0.85)": min(ratio),
            "gradient norm / T²·KL's, highest (pass ≤ 1.15)": -max(ratio)}


def m05(design, seed):
    ex = registry.get("05.recipe")
    out = {}
    for (name, cs), line in zip(calls(ex, seed)[1], (0.8, 0.5)):
        ratios = [ch05.run_recipe(ch05._recipe_stages(design(*c.args)), *c.args)
                  / ch05.run_recipe(ch05.BASELINE_RECIPE, *c.args) for c in cs]
        out[f"KL / baseline's, {'public' if line == 0.8 else 'hidden mean of 3'} (pass ≤ {line})"] = -float(
            np.mean(ratios))
    return out


def m06(design, seed):
    ex = registry.get("06.storage_scheme")
    kl, spent = [], []
    for _, cs in calls(ex, seed)[1]:
        lp = cs[0].args[0]
        ids, values = design(lp)
        ids = np.asarray(ids).astype(int)
        spent.append(ch06.BYTES_PER_ENTRY * (ids >= 0).sum() / len(lp))
        kl.append(float(div.kl_divergence(np.exp(lp), ch06.restore_stored(ids, values, lp.shape[1])).mean()))
    return {f"bytes per position (pass ≤ {ch06.STORAGE_BUDGET:g})": -max(spent),
            f"mean KL(teacher ‖ rebuilt) (pass ≤ {ch06.STORAGE_KL:g})": -max(kl)}


def m07(design, seed):
    ex = registry.get("07.recipe")
    out = {}
    for _, cs in calls(ex, seed)[1]:
        for c in cs:
            kind = next(k for k, spec in SPECS.items() if tuple(spec) == tuple(c.args))
            q, cov = recipe_scores(design(*c.args), c.secret)
            for name, value in (("quality", q - c.args[0]), ("coverage", cov - c.args[1])):
                key = f"{kind}: {name} above its floor (pass ≥ 0)"
                out[key] = min(out.get(key, np.inf), value)
    return out


ITEMS = {"01": ("01.capped_student", m01), "02": ("02.flag_collapse", m02), "03": ("03.soft_targets", m03),
         "04": ("04.symmetric_kd", m04), "05": ("05.recipe", m05), "06": ("06.storage_scheme", m06),
         "07": ("07.recipe", m07)}


def main(n_seeds: int = 100, chapters=tuple(ITEMS)) -> None:
    catalogue = _catalogue()
    for chapter in chapters:
        exercise_id, margin = ITEMS[chapter]
        ex = registry.get(exercise_id)
        designs = {"reference (solution notebook)": reference(exercise_id)}
        for label, source in catalogue.get(chapter, ({}, {}))[1].get(exercise_id, {}).items():
            designs[label] = answer_namespace(source, label)[ex.name]
        for label, design in designs.items():
            worst: dict = {}
            failed = 0
            for seed in range(n_seeds):
                failed += sum(v.points for v in engine.score(ex, {ex.name: design}, seed=seed, public_seed=seed,
                                                             timeout=None)) < ex.points
                for key, value in margin(design, seed).items():
                    worst[key] = min(worst.get(key, np.inf), value)
            shown = "; ".join(f"{k}: {abs(v):.4g}" for k, v in worst.items())
            print(f"{exercise_id} · {label}: fails {failed} of {n_seeds} seeds; worst {shown}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 100, tuple(args[1:]) or tuple(ITEMS))
