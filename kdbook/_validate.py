"""Input validation shared by every public kdbook function (private).

Every public function calls these helpers at its boundary, so that bad input fails early with a
message that names the argument and the fault, instead of a silent NaN or a crash deep in numpy.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "SUM_TOLERANCE",
    "as_float_array",
    "check_axis",
    "check_probabilities",
    "check_logits",
    "check_positive",
    "check_unit_interval",
    "check_base",
    "check_labels",
    "check_mask",
    "check_finite",
    "as_real",
    "check_choice",
    "broadcast_pair",
    "check_int",
    "check_rng",
    "check_features",
]

#: Allowed deviation of a probability vector's sum from 1, by floating-point precision.
#: float64 input (what a learner types) must sum to 1 within 1e-6; float32 and float16
#: within 1e-4 and 1e-2 (a float32 softmax over 32,000 classes sums to 1 within ~1e-6).
SUM_TOLERANCE = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4, np.dtype(np.float16): 1e-2}


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray (float32/float16 kept, anything else float64)."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular array of numbers ({err})") from None
    if arr.dtype == object:
        raise TypeError(f"{name} must be an array of numbers, got a ragged or object array")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f" or arr.dtype == np.longdouble:
        arr = arr.astype(np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the class axis), got a scalar")
    return arr


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Normalise ``axis`` to a non-negative int for an array with ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return int(axis) % ndim


def _row_label(index: tuple[int, ...]) -> str:
    index = tuple(int(i) for i in index)  # plain ints: "row (1, 0)", not "row (np.int64(1), ...)"
    return f"row {index[0]}" if len(index) == 1 else f"row {index}"


def check_probabilities(p: np.ndarray, name: str, axis: int) -> None:
    """Require finite, non-negative entries that sum to 1 along ``axis``.

    The message names the first offending row (index over the non-class axes) and its sum.
    ``axis`` may be negative.
    """
    axis = check_axis(axis, p.ndim)
    if p.shape[axis] == 0:
        raise ValueError(f"{name} has no classes: axis {axis} has length 0")
    with np.errstate(invalid="ignore", over="ignore"):
        # min() and sum() propagate NaN; +inf shows up in the sum; -inf in the min.
        mins = p.min(axis=axis)
        sums = p.sum(axis=axis, dtype=np.float64)
    bad_value = ~(mins >= 0) | ~np.isfinite(sums)
    if bad_value.any():
        idx = np.unravel_index(int(np.argmax(bad_value)), bad_value.shape) if bad_value.ndim else ()
        row = np.moveaxis(p, axis, -1)[idx]
        if not np.all(np.isfinite(row)):
            fault = "contains NaN or inf"
        else:
            fault = f"has a negative entry ({float(row.min()):.4g})"
        where = f" ({_row_label(idx)})" if idx else ""
        raise ValueError(f"{name} must be finite and non-negative: {name}{where} {fault}")
    tol = SUM_TOLERANCE.get(p.dtype, 1e-6)
    off = np.abs(sums - 1.0) > tol
    if off.any():
        idx = np.unravel_index(int(np.argmax(off)), off.shape) if off.ndim else ()
        where = f" ({_row_label(idx)} sums to {float(sums[idx]):.6g})" if idx else f" (it sums to {float(sums):.6g})"
        ax = axis - p.ndim
        raise ValueError(
            f"{name} must sum to 1 along axis {ax}{where}; tolerance {tol:g}. "
            f"Normalise it, or pass logits through kdbook.softmax"
        )


def check_finite(z: np.ndarray, name: str, *, mask: np.ndarray | None = None) -> None:
    """Require every entry of ``z`` to be finite; the message names the first bad entry.

    With a boolean ``mask`` of ``z``'s shape without its last (class) axis, only rows where the
    mask is True are checked (padding may hold anything).
    """
    if mask is not None:
        bad = ~np.isfinite(z).all(axis=-1) & mask
        if bad.any():
            idx = ", ".join(map(str, np.argwhere(bad)[0]))
            raise ValueError(f"{name} must be finite at unmasked positions: {name}[{idx}] contains NaN or inf")
        return
    if z.size and not np.isfinite(z).all():
        bad = np.argwhere(~np.isfinite(z))[0]
        raise ValueError(f"{name} must be finite: {name}[{', '.join(map(str, bad))}] is {z[tuple(bad)]}")


def check_logits(z: np.ndarray, name: str) -> None:
    """Require finite logits (NaN or inf would poison the log-sum-exp)."""
    check_finite(z, name)


def as_real(value, name: str) -> float:
    """Require a finite real number (not a bool) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


_as_real = as_real  # the old private name


def check_positive(value, name: str) -> float:
    """Require a finite number > 0 (for example the temperature ``T``)."""
    value = as_real(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_unit_interval(value, name: str) -> float:
    """Require a number in the closed interval [0, 1] (``alpha``, ``beta``, ``hard_weight``)."""
    value = as_real(value, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_base(base) -> float | None:
    """``None`` means natural log (nats); otherwise a positive number other than 1 (2 = bits)."""
    if base is None:
        return None
    value = check_positive(base, "base")
    if value == 1.0:
        raise ValueError("base must not be 1 (log base 1 is undefined); use None for nats or 2 for bits")
    return value


def check_labels(
    labels, batch_shape: tuple[int, ...], n_classes: int, name: str = "labels", *, mask: np.ndarray | None = None
) -> np.ndarray:
    """Require integer class labels of shape ``batch_shape`` with values in [0, n_classes).

    With a boolean ``mask`` of the same shape only unmasked labels are range-checked (padding may
    hold any integer, such as Hugging Face's -100), and masked ones are returned as 0.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            raise TypeError(
                f"{name} must be integers, got dtype {arr.dtype}; use {name}.astype(int) if they are whole numbers"
            )
        raise TypeError(f"{name} must be an integer array of class indices, got dtype {arr.dtype}")
    if arr.shape != tuple(batch_shape):
        raise ValueError(
            f"{name} must have shape {tuple(batch_shape)} (one class index per example), got {arr.shape}"
        )
    if mask is not None:
        arr = np.where(mask, arr, 0)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            where = " (at an unmasked position)" if mask is not None else ""
            raise ValueError(f"{name} must be in [0, {n_classes - 1}] for {n_classes} classes, found {bad}{where}")
    return arr.astype(np.intp, copy=False)


def check_mask(mask, batch_shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Require a boolean array of exactly ``batch_shape`` (True = the position counts)."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        hint = f"; use {name}.astype(bool) for a 0/1 mask" if arr.dtype.kind in "iuf" else ""
        raise TypeError(f"{name} must be a boolean array (True = keep the position), got dtype {arr.dtype}{hint}")
    if arr.shape != tuple(batch_shape):
        raise ValueError(
            f"{name} must have the batch shape {tuple(batch_shape)} (every axis but the class axis), got {arr.shape}"
        )
    return arr


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """Require one of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def broadcast_pair(p: np.ndarray, q: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast two arrays together, naming both arguments if their shapes do not fit."""
    try:
        return np.broadcast_arrays(p, q)
    except ValueError:
        raise ValueError(
            f"{names[0]} and {names[1]} must broadcast together; got shapes {p.shape} and {q.shape}"
        ) from None


def check_int(value, name: str, *, minimum: int = 0) -> int:
    """Require a whole number (not a bool) that is at least ``minimum`` (sizes, counts, epochs)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_rng(seed, name: str = "seed") -> np.random.Generator:
    """Turn an int seed (>= 0) into ``numpy.random.default_rng(seed)``; pass a Generator through."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int(seed, name))


def check_features(x, name: str) -> np.ndarray:
    """Require a finite 2-D (examples, features) float array."""
    arr = as_float_array(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (examples, features), got shape {arr.shape}")
    check_finite(arr, name)
    return arr
