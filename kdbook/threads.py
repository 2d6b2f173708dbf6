"""BLAS thread control for the training loops (introduced with ``kdbook.train`` in chapter 5).

The toy models' matrices are small: a second BLAS thread gains little on an idle machine, and
on a busy one (parallel tests, a notebook kernel's own threads) spinning BLAS threads slowed
training ten-fold in our measurements. Custom training loops (chapter 7's on-policy loop) use
the same context manager as :func:`kdbook.train.train`.
"""
from __future__ import annotations

import contextlib

__all__ = ["one_blas_thread"]

_controller = None


def one_blas_thread() -> contextlib.AbstractContextManager:
    """A context manager that runs BLAS single-threaded inside it (a no-op without threadpoolctl).

    Examples
    --------
    >>> import numpy as np
    >>> from kdbook.threads import one_blas_thread
    >>> with one_blas_thread():
    ...     float((np.ones((2, 2)) @ np.ones(2))[0])
    2.0
    """
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional at run time: training is correct either way, only its speed differs
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
