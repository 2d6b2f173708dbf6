"""Measure how far each printed number of a tolerant notebook cell moves (private).

``python3 workbook.py spread [NOTEBOOK ...]`` runs this. Each notebook is re-executed (as
``workbook.py execute`` does, two at a time) on the portability test's emulated CPU paths
(``kdbook._cpu_paths``) and with ``KDBOOK_PERTURB`` at 1e-12 and 1e-9 (every model's initial
weights perturbed by that relative size, ``kdbook._perturb``). For every printed number of every
tolerant cell (one declaring ``{"kdbook": {"tolerance": ...}}``) the largest ``|new - stored|``
seen is recorded in ``tests/output_spread.json``, keyed by notebook, cell id and the number's
position in the cell (from 1, as ``kdbook._tolerance`` counts them)::

    {"notebooks": {"notebooks/05_x.ipynb": {"0ab5b78e": {"index": 4, "numbers": [
        {"n": 1, "stored": "0.9393", "decimals": 4, "unit": 0.0001, "spread": 0.0007, "moved_on": [...]},
        ...]}}}}

The rule (README, "For contributors"; enforced by ``tests/test_spread.py``): a number's allowance
``atol + rtol * |stored|`` is at most ``max(3 units of its last printed digit, 4 * spread)``, and a
count (a whole number) that never moved must not move. ``--apply`` rewrites the measured cells'
tolerance metadata to the tightest such values (:func:`tightest`); a cell of counts that never
moved becomes strict. The portability test fails when a number moves further
than its recorded spread, so the file stays current. Default notebooks: every notebook in
notebooks/, solutions/ and exercises/ with at least one tolerant cell.
"""
from __future__ import annotations

import argparse
import math
import json
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from ._cpu_paths import cpu_paths
from ._notebooks import execute_copy
from ._perturb import ENV
from ._tolerance import METADATA_KEY, _decimals, cell_tolerance, paired_numbers, repo_sanitizer, unit

FOLDERS = ("notebooks", "solutions", "exercises")
SPREAD_FILE = Path("tests") / "output_spread.json"
PERTURBATIONS = ("1e-12", "1e-9")
WORKERS = 2
UNITS_ALWAYS_ALLOWED = 3  # a number may move 3 units of its last printed digit ...
SPREAD_FACTOR = 4  # ... or 4 times its measured spread, whichever is larger


def runs() -> dict[str, dict[str, str]]:
    """Name -> extra environment of every measuring run: each CPU path, each perturbation."""
    out = {f"cpu {name}": {**env, ENV: ""} for name, env in cpu_paths().items()}
    out.update({f"{ENV}={size}": {ENV: size} for size in PERTURBATIONS})
    return out


def _in_units(value: float, u: float) -> float:
    """``value`` rounded to whole units ``u`` (a power of ten), without binary noise: 7 units of 1e-4 -> 0.0007."""
    k = round(value / u)
    return float(f"{k}e{round(math.log10(u))}") if k else 0.0


def is_count(number: Mapping) -> bool:
    """A whole number as printed ("400", "4,547"): a count, which must not move unless measured to."""
    return number["decimals"] == 0 and not any(ch in number["stored"] for ch in "eE")


def allowed_at_most(number: Mapping) -> float:
    """The largest allowance the rule permits a recorded number: max(3 units, 4 x spread), and 0
    for a count that never moved ("on 3 of 3 seeds" must not become "on 2 of 3")."""
    if is_count(number) and not number["spread"]:
        return 0.0
    u = number["unit"]
    return max(_in_units(UNITS_ALWAYS_ALLOWED * u, u), _in_units(SPREAD_FACTOR * number["spread"], u))


def tolerant_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and cell_tolerance(c) is not None]


def has_tolerant_cells(path: Path) -> bool:
    import nbformat

    return bool(tolerant_cells(nbformat.read(path, as_version=4)))


def measure_cells(stored, fresh: Mapping[str, object], rel: str,
                  sanitize: Callable[[str], str]) -> tuple[dict, list[str]]:
    """The spread record of every tolerant cell of ``stored`` given its fresh runs (name -> notebook),
    and the problems that leave no number-by-number comparison (text changed, errors)."""
    record, problems = {}, []
    for i in tolerant_cells(stored):
        cell = stored.cells[i]
        numbers, moved = None, {}
        for name, nb in fresh.items():
            where = f"{rel}, cell {i} ({name})"
            try:
                pairs = paired_numbers(cell.outputs, nb.cells[i].outputs, where, sanitize)
            except ValueError as err:
                problems.append(str(err))
                continue
            if numbers is None:
                numbers = [{"n": n, "stored": a, "decimals": _decimals(a), "unit": unit(a), "spread": 0.0,
                            "moved_on": []} for n, (a, _) in enumerate(pairs, 1)]
            for entry, (a, b) in zip(numbers, pairs):
                change = _in_units(abs(float(b.replace(",", "")) - float(a.replace(",", ""))), entry["unit"])
                entry["spread"] = max(entry["spread"], change)
                if change:
                    entry["moved_on"].append(name)
        if numbers is not None:
            record[cell.get("id", str(i))] = {"index": i, "numbers": numbers}
    return record, problems


def stale(rel: str, stored, fresh, record: Mapping, sanitize: Callable[[str], str], run: str) -> list[str]:
    """Numbers of tolerant cells that moved further on ``run`` than ``record`` (the notebook's entry
    in the spread file) says, or cells it does not cover: the spread file is stale."""
    hint = f"run `python3 workbook.py spread {rel}` and commit {SPREAD_FILE.as_posix()}"
    failures = []
    for i in tolerant_cells(stored):
        cell_id = stored.cells[i].get("id", str(i))
        entry = record.get(cell_id)
        if entry is None:
            failures.append(f"{rel}, cell {i} (id {cell_id}) is tolerant but has no recorded spread; {hint}")
            continue
        try:
            pairs = paired_numbers(stored.cells[i].outputs, fresh.cells[i].outputs, f"{rel}, cell {i}", sanitize)
        except ValueError:
            continue  # the output comparison reports it
        if [a for a, _ in pairs] != [num["stored"] for num in entry["numbers"]]:
            failures.append(f"{rel}, cell {i}: its stored numbers are not the ones the spread was measured on; {hint}")
            continue
        for num, (a, b) in zip(entry["numbers"], pairs):
            change = abs(float(b.replace(",", "")) - float(a.replace(",", "")))
            if change > num["spread"] + num["unit"] / 2:
                failures.append(f"{rel}, cell {i}, number {num['n']}: stored {a}, new {b} on {run}, a change of "
                                f"{change:.3g}, more than its recorded spread {num['spread']:g}; {hint}")
    return failures


def tightest(numbers: list[Mapping]) -> dict | None:
    """Tolerance metadata giving each number at most :func:`allowed_at_most`: the cell's ``atol`` is
    the smallest non-zero bound, a number that moved and needs more gets its own ``per_number``
    entry, and so does a count the cell's ``atol`` would let move. None: nothing may move (a cell
    of counts that never moved), so the cell is better strict."""
    bounds = [allowed_at_most(num) for num in numbers]
    if not any(bounds):
        return None
    atol = min(b for b in bounds if b)
    tol: dict = {"atol": atol}
    per = {str(num["n"]): {"atol": b} for num, b in zip(numbers, bounds)
           if (num["spread"] > 0 and b > atol) or (b == 0 and atol >= num["unit"])}
    if per:
        tol["per_number"] = per
    return tol


def apply(path: Path, record: dict) -> list[str]:
    """Rewrite the tolerance metadata of ``path``'s measured cells; what changed, as lines. A cell
    made strict leaves ``record`` (the spread file covers tolerant cells only)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changes = []
    for cell_id, entry in list(record.items()):
        cell = nb.cells[entry["index"]]
        assert cell.get("id", str(entry["index"])) == cell_id, (path, cell_id)
        old = dict(cell.metadata[METADATA_KEY]["tolerance"])
        new = tightest(entry["numbers"])
        if new is None:
            del cell.metadata[METADATA_KEY]["tolerance"]
            if not cell.metadata[METADATA_KEY]:
                del cell.metadata[METADATA_KEY]
            del record[cell_id]
            changes.append(f"  cell {entry['index']}: {json.dumps(old)} -> strict (only counts, none moved)")
        elif old != new:
            cell.metadata[METADATA_KEY]["tolerance"] = new
            changes.append(f"  cell {entry['index']}: {json.dumps(old)} -> {json.dumps(new)}")
    if changes:
        nbformat.write(nb, path)
    return changes


def _job(path: str, env: dict) -> tuple[str, float]:
    start = time.perf_counter()
    return execute_copy(path, env), time.perf_counter() - start


def measure(paths: list[Path], root: Path, workers: int = WORKERS) -> tuple[dict, list[str]]:
    """Execute every notebook on every run, ``workers`` at a time; (records, problems)."""
    import nbformat

    sanitize = repo_sanitizer(root)
    all_runs = runs()
    records, problems = {}, []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {(p, name): pool.submit(_job, str(p), env) for p in paths for name, env in all_runs.items()}
        for path in paths:
            rel = path.resolve().relative_to(root).as_posix()
            fresh, seconds = {}, {}
            for name in all_runs:
                try:
                    text, seconds[name] = futures[(path, name)].result()
                    fresh[name] = nbformat.reads(text, as_version=4)
                except Exception as err:
                    problems.append(f"{rel} failed to execute on {name}: {type(err).__name__}: {str(err)[-2000:]}")
            stored = nbformat.read(path, as_version=4)
            records[rel], found = measure_cells(stored, fresh, rel, sanitize)
            problems += found
            report(rel, records[rel], seconds)
    return records, problems


def report(rel: str, record: Mapping, seconds: Mapping[str, float]) -> None:
    times = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    print(f"{rel}: {len(record)} tolerant cells; runs: {times}", flush=True)
    for cell_id, entry in record.items():
        moved = [num for num in entry["numbers"] if num["spread"]]
        print(f"  cell {entry['index']} ({cell_id}): {len(entry['numbers'])} numbers, {len(moved)} moved", flush=True)
        for num in moved:
            print(f"    number {num['n']} (stored {num['stored']}): spread {num['spread']:g} "
                  f"on {', '.join(num['moved_on'])}; allowed at most {allowed_at_most(num):g}", flush=True)


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"notebooks": {}}


def save(path: Path, data: dict) -> None:
    """Write the spread file: one line per number, notebooks sorted, so diffs stay readable."""
    lines = ["{", f' "runs": {json.dumps(data["runs"])},', f' "rule": {json.dumps(data["rule"])},', ' "notebooks": {']
    notebooks = sorted(data["notebooks"].items())
    for k, (rel, record) in enumerate(notebooks):
        lines.append(f"  {json.dumps(rel)}: {{")
        cells = sorted(record.items(), key=lambda item: item[1]["index"])
        for j, (cell_id, entry) in enumerate(cells):
            lines.append(f'   {json.dumps(cell_id)}: {{"index": {entry["index"]}, "numbers": [')
            nums = [f"    {json.dumps(num, ensure_ascii=False)}" for num in entry["numbers"]]
            lines.append(",\n".join(nums))
            lines.append("   ]}" + ("," if j < len(cells) - 1 else ""))
        lines.append("  }" + ("," if k < len(notebooks) - 1 else ""))
    lines += [" }", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == {**data, "notebooks": dict(notebooks)}
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every notebook with a tolerant cell)")
    parser.add_argument("--apply", action="store_true",
                        help="also rewrite the measured cells' tolerances to max(3 units, 4 x spread) per number")
    parser.add_argument("--workers", type=int, default=WORKERS, help="notebook runs at a time (default 2)")
    parser.add_argument("--output", type=Path, default=SPREAD_FILE,
                        help=f"the spread file to update (default {SPREAD_FILE.as_posix()})")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    root = Path.cwd().resolve()
    if args.paths:
        for p in args.paths:
            if not (p.suffix == ".ipynb" and p.is_file()):
                parser.error(f"not a notebook: {p}")
        paths = list(args.paths)
    else:
        paths = [p for d in FOLDERS for p in sorted((root / d).glob("*.ipynb")) if has_tolerant_cells(p)]
    start = time.perf_counter()
    records, problems = measure(paths, root, args.workers)
    output = root / args.output
    data = load(output)
    data["runs"] = list(runs())
    data["rule"] = (f"allowance atol + rtol*|stored| <= max({UNITS_ALWAYS_ALLOWED} units of the last printed digit, "
                    f"{SPREAD_FACTOR} x spread)")
    for rel, record in records.items():
        if any(p.startswith(rel + ",") or p.startswith(rel + " ") for p in problems):
            continue  # not recorded, not applied: the problem is reported below
        if args.apply:
            changes = apply(root / rel, record)
            print(f"{rel}: {len(changes)} tolerances rewritten" + "".join("\n" + c for c in changes), flush=True)
        data["notebooks"][rel] = record
    save(output, data)
    print(f"measured {len(paths)} notebooks on {len(runs())} runs in {time.perf_counter() - start:.0f} s; "
          f"wrote {args.output}", flush=True)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
