"""Result records: what a check saw the student's code return, in a form the grader can re-check.

Every check emits one record per case as a display output with the mime type `MIME`. The record is
a JSON object

    {"check": "rnn_forward", "case": "visible-0", "status": "ok" | "error" | "bad_output",
     "outputs": {name: {"dtype": "float64", "shape": [3, 2, 4], "b64": "..."}},
     "error": "NotImplementedError: ..."}            # only when status != "ok"

so that the grader side (`grnn_ref.grading.verify`) can regenerate the case's inputs, compute the
reference itself and compare, without trusting anything else the kernel printed. Arrays travel as
base64 of their raw little-endian bytes (exact, unlike a decimal repr).

Kernel side: numpy and the standard library only.
"""
import base64
import json

import numpy as np

MIME = "application/vnd.grnn.check+json"

# Records kept in the process too, so that checks can be tested without a kernel.
LAST_RECORDS = []
_MAX_KEPT = 1000

# Refuse to encode absurdly large arrays (a record is a notebook output; keep notebooks small).
MAX_ELEMENTS = 1_000_000


def encode_array(a):
    """A JSON-able dict {"dtype", "shape", "b64"} holding the exact values of array `a`."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"encode_array: dtype {a.dtype} is not numeric")
    if a.size > MAX_ELEMENTS:
        raise ValueError(f"encode_array: array of shape {a.shape} has more than {MAX_ELEMENTS} elements")
    le = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": le.dtype.str, "shape": list(a.shape),
            "b64": base64.b64encode(np.ascontiguousarray(le).tobytes()).decode("ascii")}


def decode_array(d):
    """The array encoded by `encode_array` (a new, writable ndarray). ValueError if malformed."""
    try:
        dtype = np.dtype(d["dtype"])
        shape = tuple(int(n) for n in d["shape"])
        raw = base64.b64decode(d["b64"], validate=True)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"decode_array: malformed array record ({e})") from None
    if dtype.kind not in "fiub" or any(n < 0 for n in shape):
        raise ValueError(f"decode_array: bad dtype {dtype} or shape {shape}")
    count = int(np.prod(shape, dtype=np.int64))
    if count > MAX_ELEMENTS or len(raw) != count * dtype.itemsize:
        raise ValueError(f"decode_array: {len(raw)} bytes do not hold shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def make_record(check, case, outputs=None, status="ok", error=None):
    """Build a record dict. `outputs`: name -> array (arrays that cannot be encoded are skipped and
    turn the status into "bad_output")."""
    enc = {}
    for name, value in (outputs or {}).items():
        try:
            enc[name] = encode_array(value)
        except (ValueError, TypeError) as e:
            status = "bad_output"
            error = error or f"output {name!r} is not a numeric array ({e})"
    rec = {"check": str(check), "case": str(case), "status": status, "outputs": enc}
    if error is not None:
        rec["error"] = str(error)[:2000]
    return rec


def emit(record):
    """Publish `record` as a display output (when running in an IPython kernel) and keep it in
    LAST_RECORDS."""
    LAST_RECORDS.append(record)
    del LAST_RECORDS[:-_MAX_KEPT]
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to publish to
        return
    if get_ipython() is None:
        return
    # An empty text/plain keeps front ends and nbconvert quiet about the unknown mime type while
    # showing nothing to the student.
    display({MIME: record, "text/plain": ""}, raw=True)


def records_from_outputs(outputs):
    """The records found in a list of nbformat cell outputs (dicts), in order.

    Outputs whose data under MIME is not a dict (or a JSON string of one) are ignored here; the
    grader decides what a missing record means.
    """
    found = []
    for out in outputs or ():
        data = out.get("data") if isinstance(out, dict) else None
        if not isinstance(data, dict) or MIME not in data:
            continue
        rec = data[MIME]
        if isinstance(rec, str):
            try:
                rec = json.loads(rec)
            except ValueError:
                continue
        if isinstance(rec, dict):
            found.append(rec)
    return found


def decode_outputs(record):
    """name -> ndarray of a record's outputs. ValueError if any is malformed."""
    outs = record.get("outputs")
    if not isinstance(outs, dict):
        raise ValueError("record has no outputs dict")
    return {str(k): decode_array(v) for k, v in outs.items()}
