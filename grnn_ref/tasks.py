"""Long-lag tasks with known baselines, generated with numpy from a seed.

Everything is time-major like the rest of the course: a batch of n sequences of length L is an
array of shape (L, n, ...). Generation is numpy only (no torch), float32 by default, and fully
determined by `seed` (or by the `rng` you pass, a `numpy.random.Generator`).

The adding problem (Arjovsky, Shah and Bengio 2016 form; `variant="arjovsky"`, the default)
    xs[t, i, 0]  value,  U[0, 1] i.i.d.
    xs[t, i, 1]  marker, 1.0 at exactly two steps: one uniformly in the first half
                 [0, T // 2), one uniformly in the second half [T // 2, T); 0.0 elsewhere
    ys[i, 0]     sum of the two marked values (the target is read only after the last step)
  A constant predictor can do no better than the target's mean, 1: the target is a sum of two
  independent U[0, 1] values, so its variance, and the best constant's MSE, is 2 * 1/12 = 1/6
  (`ADDING_BASELINE_MSE`).

The adding problem of Hochreiter and Schmidhuber (1997, Experiment 4; `variant="hochreiter"`)
    xs[t, i, 0]  value, U[-1, 1] i.i.d.
    xs[t, i, 1]  marker: 1.0 at the two marked steps, -1.0 at the first and last step when they are
                 not marked, 0.0 elsewhere. The first mark X1 is one of the first ten steps, the
                 second X2 one of the first T/2 - 1 steps, different from the first; when step 0 is
                 marked its value X1 is set to 0 (as in the paper)
    ys[i, 0]     0.5 + (X1 + X2) / 4, the sum scaled into [0, 1]
  The paper counts a sequence as solved when the absolute error is below 0.04. Simplification:
  the paper draws each sequence's length between T and T + T/10; here all sequences have length
  T so that they batch. Best constant predictor: 0.5, with MSE (E[X1^2] + E[X2^2]) / 16
  = (0.9 / 3 + 1 / 3) / 16 = 19/480 ~ 0.0396 (`HOCHREITER_BASELINE_MSE`).

The copy-memory task (Arjovsky et al. 2016)
    Alphabet of n_symbols + 2 ids: 0 .. n_symbols - 1 are data symbols, `n_symbols` is the blank,
    `n_symbols + 1` the delimiter. A sequence has length L = T + 2 * n_copy:
    inputs  = [s_1 .. s_ncopy] + [blank] * (T - 1) + [delim] + [blank] * n_copy
    targets = [blank] * (T + n_copy) + [s_1 .. s_ncopy]
  with s_j uniform over the data symbols. The loss is the cross-entropy averaged over all L steps.
  A memoryless strategy that outputs blank for T + n_copy steps and then the uniform distribution
  over the data symbols scores n_copy * log(n_symbols) / (T + 2 * n_copy)
  (`copy_baseline_ce`; 10 log 8 / (T + 20) for the paper's sizes).
"""
import math

import numpy as np

__all__ = [
    "ADDING_BASELINE_MSE", "HOCHREITER_BASELINE_MSE", "HOCHREITER_TOLERANCE",
    "adding_problem", "copy_task", "copy_baseline_ce", "copy_vocab_size", "one_hot",
    "task_baseline", "TASKS",
]

#: Best MSE of a constant predictor on the Arjovsky et al. (2016) adding problem: Var(U1 + U2) = 1/6.
ADDING_BASELINE_MSE = 1.0 / 6.0
#: Best MSE of a constant predictor (0.5) on the Hochreiter & Schmidhuber (1997) adding problem.
HOCHREITER_BASELINE_MSE = 19.0 / 480.0
#: Hochreiter & Schmidhuber (1997): a sequence is processed correctly if |error| < 0.04.
HOCHREITER_TOLERANCE = 0.04

TASKS = ("adding", "copy")


def _rng(seed, rng, fn):
    if rng is not None and seed is not None:
        raise ValueError(f"{fn}: pass either seed or rng, not both (got seed={seed!r} and an rng)")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _check_pos_int(fn, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def adding_problem(n, T, *, seed=None, rng=None, variant="arjovsky", dtype=np.float32):
    """A batch of the adding problem (layout in the module docstring).

    Args:
        n: number of sequences (the batch size B).
        T: sequence length (>= 2 for "arjovsky", >= 22 for "hochreiter").
        seed / rng: an int seed or a numpy Generator (not both); None draws fresh entropy.
        variant: "arjovsky" (default; values U[0,1], one marker per half, baseline MSE 1/6) or
            "hochreiter" (the 1997 form, fixed length T, baseline MSE 19/480).
        dtype: float32 (default) or float64.

    Returns:
        xs: (T, n, 2) values in channel 0, markers in channel 1.
        ys: (n, 1) the target, read after the last step.
    """
    fn = "adding_problem"
    n = _check_pos_int(fn, "n", n)
    if variant == "arjovsky":
        T = _check_pos_int(fn, "T", T, 2)
    elif variant == "hochreiter":
        T = _check_pos_int(fn, "T", T, 22)
    else:
        raise ValueError(f"{fn}: variant must be 'arjovsky' or 'hochreiter', got {variant!r}")
    g = _rng(seed, rng, fn)
    xs = np.zeros((T, n, 2), dtype=np.float64)
    rows = np.arange(n)
    if variant == "arjovsky":
        xs[:, :, 0] = g.random((T, n))
        half = T // 2
        first = g.integers(0, half, size=n)
        second = g.integers(half, T, size=n)
        xs[first, rows, 1] = 1.0
        xs[second, rows, 1] = 1.0
        ys = xs[first, rows, 0] + xs[second, rows, 0]
    else:
        xs[:, :, 0] = g.uniform(-1.0, 1.0, size=(T, n))
        first = g.integers(0, 10, size=n)
        # the second mark is uniform over the first T/2 - 1 steps other than `first`
        span = T // 2 - 1
        second = g.integers(0, span - 1, size=n)
        second = second + (second >= first)
        xs[0, :, 1] = -1.0
        xs[T - 1, :, 1] = -1.0
        xs[first, rows, 1] = 1.0
        xs[second, rows, 1] = 1.0
        xs[0, first == 0, 0] = 0.0
        ys = 0.5 + (xs[first, rows, 0] + xs[second, rows, 0]) / 4.0
    return xs.astype(dtype, copy=False), ys.reshape(n, 1).astype(dtype, copy=False)


def copy_vocab_size(n_symbols=8):
    """Number of input/output classes of the copy task: data symbols + blank + delimiter."""
    return n_symbols + 2


def copy_task(n, T, *, seed=None, rng=None, n_symbols=8, n_copy=10, one_hot_inputs=False,
              dtype=np.float32):
    """A batch of the copy-memory task (layout in the module docstring).

    Args:
        n: number of sequences.
        T: the delay: number of steps between the end of the data and the end of the delimiter
            (T - 1 blanks then the delimiter); >= 1.
        seed / rng: an int seed or a numpy Generator (not both).
        n_symbols: number of data symbols (8 in the paper); ids 0..n_symbols-1.
        n_copy: number of symbols to remember (10 in the paper).
        one_hot_inputs: if True return inputs as one-hot floats instead of ids.
        dtype: dtype of one-hot inputs.

    Returns:
        inputs: (T + 2*n_copy, n) int64 ids, or (T + 2*n_copy, n, n_symbols + 2) one-hot.
        targets: (T + 2*n_copy, n) int64 ids.
    """
    fn = "copy_task"
    n = _check_pos_int(fn, "n", n)
    T = _check_pos_int(fn, "T", T)
    n_symbols = _check_pos_int(fn, "n_symbols", n_symbols)
    n_copy = _check_pos_int(fn, "n_copy", n_copy)
    g = _rng(seed, rng, fn)
    blank, delim = n_symbols, n_symbols + 1
    L = T + 2 * n_copy
    data = g.integers(0, n_symbols, size=(n_copy, n))
    inputs = np.full((L, n), blank, dtype=np.int64)
    inputs[:n_copy] = data
    inputs[n_copy + T - 1] = delim
    targets = np.full((L, n), blank, dtype=np.int64)
    targets[T + n_copy:] = data
    if one_hot_inputs:
        inputs = one_hot(inputs, copy_vocab_size(n_symbols), dtype=dtype)
    return inputs, targets


def one_hot(ids, n_classes, dtype=np.float32):
    """(...) int ids -> (..., n_classes) one-hot array."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise ValueError(
            f"one_hot: ids must lie in [0, {n_classes}), got range [{ids.min()}, {ids.max()}]")
    return np.eye(n_classes, dtype=dtype)[ids]


def copy_baseline_ce(T, n_copy=10, n_symbols=8):
    """Cross-entropy (nats per step) of the memoryless copy-task strategy, Arjovsky et al. (2016):
    n_copy * log(n_symbols) / (T + 2 * n_copy); 10 log 8 / (T + 20) for the paper's sizes."""
    return n_copy * math.log(n_symbols) / (T + 2 * n_copy)


def task_baseline(task, T, variant="arjovsky"):
    """The loss a memoryless predictor reaches: the bar a model must clear to show memory.

    "adding" -> MSE 1/6 (or 19/480 for the "hochreiter" variant); "copy" -> copy_baseline_ce(T).
    """
    if task == "adding":
        return HOCHREITER_BASELINE_MSE if variant == "hochreiter" else ADDING_BASELINE_MSE
    if task == "copy":
        return copy_baseline_ce(T)
    raise ValueError(f"task_baseline: task must be one of {TASKS}, got {task!r}")
