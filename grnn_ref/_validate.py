"""Shape and dtype checks shared by the numpy reference (private).

Every public function of `grnn_ref.rnn`, `grnn_ref.lstm` and `grnn_ref.gru` checks its arguments
here before doing any arithmetic, so that a wrong shape fails with a message that names the
function, the argument, the shape seen and the shape expected, e.g.

    lstm_step_forward: h_prev has shape (3, 5), expected (B, H) = (3, 4)

instead of a broadcasting error three lines into the maths (or, worse, a silent broadcast).
"""
import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# How many gate blocks each kind stacks in W_ih / W_hh, and the article the messages use.
NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_KIND_LABEL = {"rnn": "an RNN", "lstm": "an LSTM", "gru": "a GRU"}


def _fmt(shape):
    return str(tuple(int(n) for n in shape))


def as_float_array(fn, name, a):
    """Return `a` as a float32/float64 ndarray (never a copy of an ndarray), or raise ValueError."""
    if not isinstance(a, np.ndarray):
        if a is None:
            raise ValueError(f"{fn}: {name} is None, expected a float32 or float64 numpy array")
        a = np.asarray(a)
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{fn}: {name} has dtype {a.dtype}, expected float32 or float64 "
            f"(convert it with np.asarray({name}, dtype=np.float64))")
    return a


def check_shape(fn, name, a, expected, symbols):
    """Raise ValueError unless a.shape == expected; `symbols` is e.g. "(B, H)" for the message."""
    if a.shape != tuple(expected):
        raise ValueError(
            f"{fn}: {name} has shape {_fmt(a.shape)}, expected {symbols} = {_fmt(expected)}")


def check_ndim(fn, name, a, ndim, symbols):
    if a.ndim != ndim:
        raise ValueError(
            f"{fn}: {name} has shape {_fmt(a.shape)}, expected a {ndim}-D array {symbols}")


def check_params(fn, p, kind):
    """Check that `p` holds the parameters of one `kind` cell; return (p as Params, D, H).

    H is read from p.W_hh's columns, D from p.W_ih's columns; every other size must agree with them:
    W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,) with G = 1, 4, 3 for rnn, lstm, gru.
    All four arrays must share one float dtype.
    """
    from grnn_ref.params import Params

    if not isinstance(p, tuple) or len(p) != 4:
        raise ValueError(
            f"{fn}: p must be a Params(W_ih, W_hh, b_ih, b_hh), got {type(p).__name__}")
    fields = Params._fields
    arrays = [as_float_array(fn, f"p.{f}", a) for f, a in zip(fields, p)]
    W_ih, W_hh, b_ih, b_hh = arrays
    for f, a in zip(fields, arrays):
        if a.dtype != W_ih.dtype:
            raise ValueError(
                f"{fn}: p.{f} has dtype {a.dtype}, but p.W_ih has dtype {W_ih.dtype}; "
                f"all parameters must share one float dtype")
    G = NUM_GATES[kind]
    label = _KIND_LABEL[kind]
    check_ndim(fn, "p.W_hh", W_hh, 2, "(G*H, H)")
    check_ndim(fn, "p.W_ih", W_ih, 2, "(G*H, D)")
    H = W_hh.shape[1]
    D = W_ih.shape[1]
    if H == 0 or D == 0:
        raise ValueError(f"{fn}: p has hidden size H = {H} and input size D = {D}; both must be >= 1")
    for f, a in (("W_ih", W_ih), ("W_hh", W_hh)):
        if a.shape[0] != G * H:
            hint = ""
            for other, g in NUM_GATES.items():
                if other != kind and a.shape[0] == g * H:
                    hint = f"; these look like the parameters of {_KIND_LABEL[other]}"
            raise ValueError(
                f"{fn}: p.{f} has {a.shape[0]} rows, expected {G}*H = {G * H} for {label} "
                f"(H = {H} from p.W_hh.shape[1]){hint}")
    for f, a in (("b_ih", b_ih), ("b_hh", b_hh)):
        check_shape(fn, f"p.{f}", a, (G * H,), f"({G}*H,)")
    return Params(W_ih, W_hh, b_ih, b_hh), D, H


def check_same_dtype(fn, p, **arrays):
    """Raise ValueError if any of the named arrays has a dtype other than the parameters'."""
    for name, a in arrays.items():
        if a.dtype != p.W_ih.dtype:
            raise ValueError(
                f"{fn}: {name} has dtype {a.dtype}, but p has dtype {p.W_ih.dtype}; inputs and "
                f"parameters must share one float dtype (float32 or float64)")


def check_step_inputs(fn, p, kind, x, **states):
    """Validate one step's inputs: x (B, D) and each state (B, H). Returns (p, x, states...)."""
    p, D, H = check_params(fn, p, kind)
    x = as_float_array(fn, "x", x)
    check_ndim(fn, "x", x, 2, f"(B, D) with D = {D}")
    B = x.shape[0]
    check_shape(fn, "x", x, (B, D), "(B, D)")
    out = [p, x]
    for name, s in states.items():
        s = as_float_array(fn, name, s)
        check_shape(fn, name, s, (B, H), "(B, H)")
        out.append(s)
    check_same_dtype(fn, p, x=x, **dict(zip(states, out[2:])))
    return out


def check_sequence_inputs(fn, p, kind, xs, **states):
    """Validate a sequence's inputs: xs (T, B, D), T >= 1, and each state (B, H)."""
    p, D, H = check_params(fn, p, kind)
    xs = as_float_array(fn, "xs", xs)
    check_ndim(fn, "xs", xs, 3, f"(T, B, D) with D = {D}")
    T, B = xs.shape[:2]
    check_shape(fn, "xs", xs, (T, B, D), "(T, B, D)")
    if T == 0:
        raise ValueError(f"{fn}: xs has shape {_fmt(xs.shape)}: T = 0 time steps, expected T >= 1")
    out = [p, xs]
    for name, s in states.items():
        s = as_float_array(fn, name, s)
        check_shape(fn, name, s, (B, H), "(B, H)")
        out.append(s)
    check_same_dtype(fn, p, xs=xs, **dict(zip(states, out[2:])))
    return out


def check_upstream(fn, name, d, expected, symbols, dtype):
    """Validate an upstream gradient (dh_next, dhs, dcs ...) against the forward's shape and dtype."""
    d = as_float_array(fn, name, d)
    check_shape(fn, name, d, expected, symbols)
    if d.dtype != dtype:
        raise ValueError(
            f"{fn}: {name} has dtype {d.dtype}, but the forward pass ran in {dtype}; "
            f"upstream gradients must have the forward's dtype")
    return d


def check_step_caches(fn, cache, step_type, forward_name):
    """A sequence cache: the non-empty list of step caches (step_type) of a forward pass."""
    if (not isinstance(cache, list) or not cache
            or not all(isinstance(step, step_type) for step in cache)):
        what = type(cache).__name__
        if isinstance(cache, list):
            kinds = sorted({type(step).__name__ for step in cache}) or ["nothing"]
            what = f"list of {', '.join(kinds)}"
        raise ValueError(
            f"{fn}: cache is a {what}, expected the cache returned by grnn_ref's {forward_name} "
            f"(a list of {step_type.__name__}, one per step)")
    return cache


def check_cache(fn, cache, cache_type, forward_name):
    if not isinstance(cache, cache_type):
        raise ValueError(
            f"{fn}: cache is a {type(cache).__name__}, expected the cache returned by "
            f"grnn_ref's {forward_name} (a backward only takes the cache of its own forward)")


def gates_of(fn, cache, kind, step_type):
    """{gate name: values} of a step cache ((B, H) arrays) or a sequence cache (stacked, (T, B, H)),
    new arrays; ValueError naming `fn` for anything else."""
    from grnn_ref.params import GATES

    if isinstance(cache, step_type):
        return {name: np.array(getattr(cache, name)) for name in GATES[kind]}
    if isinstance(cache, list) and cache and all(isinstance(s, step_type) for s in cache):
        return {name: np.stack([getattr(step, name) for step in cache]) for name in GATES[kind]}
    raise ValueError(f"{fn}: cache is a {type(cache).__name__}, expected a cache from "
                     f"{kind}_forward or {kind}_step_forward")
