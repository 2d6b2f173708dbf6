"""Re-execute workbook notebooks top to bottom on a fresh kernel and store their outputs (private).

``python3 workbook.py execute [PATH ...]`` runs this. Outputs are stored deterministically so
nbval compares real outputs with little diff churn: no timing metadata, no widget state, one
kernelspec, a fixed hash seed. Default: every notebook in ``notebooks/`` and ``solutions/``
(exercise notebooks are written by ``python -m kdbook.exercises generate``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
DEFAULT_DIRS = ("notebooks", "solutions")


def _merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: how a busy kernel splits them is not content."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = prev["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def execute_notebook(nb, cwd: Path, timeout: int = 600, env: Mapping[str, str] | None = None):
    """Execute an in-memory nbformat notebook in ``cwd`` and return it with clean metadata.

    ``env`` adds to (or overrides) the kernel's environment, e.g. ``OPENBLAS_CORETYPE`` for the
    portability test's emulated CPU paths.
    """
    from nbclient import NotebookClient

    # Only the kernel gets these (a fixed hash seed; the backend a notebook front end uses).
    env = {**os.environ, **(env or {}), "PYTHONHASHSEED": "0",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,
        store_widget_state=True,  # False makes nbclient crash on Output widgets (KeyError); state is dropped below
    )
    client.execute(env=env)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
    nb.metadata.pop("widgets", None)
    lang = nb.metadata.get("language_info", {})
    lang.pop("version", None)  # differs between machines; not worth a diff
    return nb


def execute_path(path: Path, timeout: int = 600) -> float:
    """Execute the notebook file at ``path`` in place; return the seconds it took."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute_notebook(nb, path.parent.resolve(), timeout)
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def execute_copy(path: str | Path, env: Mapping[str, str] | None = None, timeout: int = 600) -> str:
    """Execute the notebook at ``path`` as :func:`execute_path` does, but return it as JSON text
    instead of writing it back (the portability test compares it with the stored outputs)."""
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    return nbformat.writes(execute_notebook(nb, path.parent.resolve(), timeout, env))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks or folders (default: notebooks/ solutions/)")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    targets: list[Path] = []
    for p in args.paths or [Path(d) for d in DEFAULT_DIRS]:
        if p.is_dir():
            targets.extend(sorted(q for q in p.glob("*.ipynb")))
        elif p.suffix == ".ipynb" and p.exists():
            targets.append(p)
        else:
            parser.error(f"not a notebook or folder: {p}")
    failed = 0
    for path in targets:
        try:
            secs = execute_path(path, args.timeout)
            print(f"executed {path} in {secs:.1f} s", flush=True)
        except Exception as err:  # report every notebook, then fail
            failed += 1
            print(f"FAILED {path}: {type(err).__name__}: {str(err)[-2000:]}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
