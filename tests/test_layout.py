"""The package layout (issue 23): every public submodule reachable by attribute access, and the
old module paths of saved notebooks still importing, with a warning that names the new one."""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import warnings

import pytest

import kdbook
from kdbook._moved import MOVED


def _public_modules(package) -> list[str]:
    names = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name in MOVED or info.name == "__main__":
            continue
        names.append(info.name)
    return names


def test_every_public_submodule_is_reachable_by_attribute_access_in_a_fresh_interpreter():
    names = _public_modules(kdbook)
    assert {"lm", "classify", "train", "plotting", "widgets", "grading", "progress", "states"} <= set(names)
    code = ("import kdbook, warnings; warnings.filterwarnings('error', message='kdbook', category=DeprecationWarning)\n"
            f"for n in {names!r}:\n    getattr(kdbook, n)\n"
            f"for n in {_public_modules(kdbook.lm)!r}:\n    getattr(kdbook.lm, n)\n"
            f"for n in {_public_modules(kdbook.classify)!r}:\n    getattr(kdbook.classify, n)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_still_import_with_a_deprecation_warning(old):
    new = importlib.import_module(f"kdbook.{MOVED[old]}")
    sys.modules.pop(f"kdbook.{old}", None)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        module = importlib.import_module(f"kdbook.{old}")
    assert module is new
    assert any(issubclass(w.category, DeprecationWarning) and f"kdbook.{MOVED[old]}" in str(w.message) for w in seen)


def test_saved_notebook_imports_of_the_old_layout_keep_working():
    from kdbook.lm import WindowLM as new_window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kdbook.language import ToyLanguage
        from kdbook.lm import WindowLM
        from kdbook.models import MLP
        from kdbook.topk import top_k_logprobs  # noqa: F401

    assert WindowLM is new_window and ToyLanguage.__module__ == "kdbook.lm.language"
    assert MLP.__module__ == "kdbook.classify.models"


def test_training_does_not_import_the_widgets_package():
    code = "import kdbook.train, sys; print('kdbook.widgets' in sys.modules, 'ipywidgets' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_batch_grader_uses_the_public_grading_engine_not_private_names():
    from pathlib import Path

    grade = Path(kdbook.__file__).parent / "grade"
    private = [f"{p.name}: {line.strip()}" for p in sorted(grade.glob("*.py"))
               for line in p.read_text(encoding="utf-8").splitlines()
               if line.lstrip().startswith(("from ..grading._", "import kdbook.grading._", "from kdbook.grading._"))]
    assert not private, private
