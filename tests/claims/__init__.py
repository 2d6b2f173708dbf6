"""Claims tests: every comparative or universal statement in a chapter's prose, re-checked on ten seeds.

A chapter notebook prints a few seeds to keep its run short; a sentence such as "lower on every
seed" or "X beats Y" is only as strong as the seeds it was tested on. Each chapter gets
``tests/claims/test_chNN_<topic>.py``:

* ``pytestmark = [pytest.mark.claims, pytest.mark.slow]`` (select them with ``-m claims``);
* recompute the experiment with kdbook's own data, model and training functions, with the
  notebook's settings but not its printing code, on at least 10 seeds, teacher and student seeds
  where both exist (cache the runs in a private helper module such as ``_ch05_runs.py``, with
  ``functools.lru_cache``, so that several tests share one set of runs);
* one test per claim, quoting the sentence in its docstring and asserting exactly what the prose
  says: a count ("on 10 of 10 seeds", "on 8 of 10"), a sign of the mean paired difference with its
  standard error, a ranking;
* when a claim does not hold on the ten seeds, correct the prose (not the test) and say how many
  seeds held; re-execute the notebook.

Keep one chapter's file under about 120 s of CPU on a quiet machine. The tests read nothing from
the notebook, so they keep holding (or fail) when kdbook's training code changes.
"""
