"""Compare a student's outputs with reference outputs: which output differs, by how much, where.

Pure functions of arrays (numpy only), used in the kernel (feedback on a student's machine) and in
the grader process (verification), so both reach the same verdict.

Error measure. For each element

    err_i = |s_i - r_i| / (|r_i| + FLOOR * max_j |r_j|)

a relative error that stays meaningful where r_i is near zero: there the floor (1% of the array's
largest magnitude) stands in for |r_i|, because rounding errors are proportional to the magnitudes
of the terms summed, not to the (possibly cancelled) result.

Tolerances (RTOL) by the dtype of the case's inputs:
  float64: 1e-6. A correct float64 implementation differs from the reference only in the order of
           operations; over our small cases (T <= 8, sums of <= 40 terms) that is ~1e-13 in err,
           while every mistake we know changes outputs by >= 1e-2. Six orders of margin each way.
  float32: 1e-3. Machine epsilon is 6e-8; the same sums give err ~ n * eps / FLOOR ~ 1e-4 at
           worst, and a student may compute in float64 and cast back (err ~ 1e-6). Still two
           orders of magnitude below the smallest real mistake.
Dtype. The contract is float32 in, float32 out (and float64 in, float64 out): an output that the
reference returns in the inputs' dtype must come back in that dtype, or the case fails with a
message that says so (after its values, which are compared first).
"""
from dataclasses import dataclass, field

import numpy as np

RTOL = {"float64": 1e-6, "float32": 1e-3}
FLOOR = 1e-2
# Below this magnitude an all-zero reference is treated as exactly zero.
ABS_FLOOR = 1e-12


def input_dtype(inputs):
    """The dtype of a case (its parameters', else its first input's): the dtype its outputs keep."""
    for name in ("W_ih", "x", "xs"):
        if name in inputs:
            return inputs[name].dtype
    return next(iter(inputs.values())).dtype


def rtol_for(dtype, overrides=None):
    """The relative tolerance for a case whose inputs have `dtype`."""
    name = np.dtype(dtype).name
    if overrides and name in overrides:
        return overrides[name]
    return RTOL.get(name, RTOL["float32"])


@dataclass
class OutputResult:
    """How one named output compares. problem is None when it matches."""
    name: str
    expected_shape: tuple
    shape: tuple = None
    problem: str = None          # "missing", "not_array", "shape", "nonfinite", "values", "dtype"
    max_err: float = 0.0
    where: tuple = None          # index of the largest error
    yours: float = None
    expected: float = None
    dtype: str = None            # the student's dtype and the expected one, for "dtype"
    expected_dtype: str = None

    @property
    def ok(self):
        return self.problem is None

    def describe(self):
        """One sentence on what is wrong with this output (empty if it matches)."""
        shp = f"shape {self.expected_shape}"
        if self.problem == "missing":
            return f"{self.name} is missing from what your function returned."
        if self.problem == "not_array":
            return f"{self.name} is not an array of numbers (expected {shp})."
        if self.problem == "shape":
            return f"{self.name} has shape {self.shape}, expected {shp}."
        if self.problem == "nonfinite":
            return f"{self.name} ({shp}) contains NaN or inf at index {self.where}."
        if self.problem == "values":
            return (f"{self.name} ({shp}) differs from the reference: max relative error "
                    f"{self.max_err:.3g} at index {self.where} (yours {self.yours:.6g}, "
                    f"expected {self.expected:.6g}).")
        if self.problem == "dtype":
            return (f"{self.name} has the right values but dtype {self.dtype}; the inputs are "
                    f"{self.expected_dtype}, and the contract returns the inputs' dtype "
                    f"({self.expected_dtype} in, {self.expected_dtype} out).")
        return ""


@dataclass
class Report:
    """The comparison of all outputs of one case."""
    results: list = field(default_factory=list)
    rtol: float = 0.0

    @property
    def ok(self):
        return all(r.ok for r in self.results)

    @property
    def failed(self):
        return [r for r in self.results if not r.ok]

    def failed_names(self):
        return [r.name for r in self.failed]

    def describe(self, limit=6, order=()):
        """The failures, one per line (at most `limit`), in the order of the names in `order`
        (a check's outputs: states and input gradients before parameter gradients)."""
        rank = {name: i for i, name in enumerate(order)}
        failed = sorted(self.failed, key=lambda r: rank.get(r.name, len(rank)))
        lines = [r.describe() for r in failed[:limit]]
        more = len(self.failed) - limit
        if more > 0:
            lines.append(f"... and {more} more output(s) differ.")
        return "\n".join(lines)


def _as_array(value):
    if isinstance(value, np.ndarray):
        return value
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        a = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object numpy cannot convert
        return None
    return a if a.dtype.kind in "fiub" else None


def compare_array(name, student, reference, rtol, input_dtype=None):
    """Compare one output. Returns an OutputResult. With `input_dtype`, an output the reference
    returns in that dtype (an array, not a scalar) must have it too."""
    want_dtype = None
    if (input_dtype is not None and isinstance(reference, np.ndarray) and reference.ndim
            and reference.dtype == np.dtype(input_dtype)):
        want_dtype = np.dtype(input_dtype)
    ref = np.asarray(reference, dtype=np.float64)
    res = OutputResult(name, tuple(ref.shape))
    if student is None:
        res.problem = "missing"
        return res
    s = _as_array(student)
    if s is None:
        res.problem = "not_array"
        return res
    res.shape = tuple(s.shape)
    if s.shape != ref.shape:
        res.problem = "shape"
        return res
    s64 = s.astype(np.float64)
    bad = ~np.isfinite(s64)
    if bad.any():
        res.problem = "nonfinite"
        res.where = tuple(int(i) for i in np.argwhere(bad)[0])
        return res
    if ref.size:
        _compare_values(res, s64, ref, rtol)
    if res.problem is None and want_dtype is not None and s.dtype != want_dtype:
        res.problem, res.dtype, res.expected_dtype = "dtype", s.dtype.name, want_dtype.name
    return res


def _compare_values(res, s64, ref, rtol):
    scale = max(float(np.abs(ref).max()), ABS_FLOOR)
    err = np.abs(s64 - ref) / (np.abs(ref) + FLOOR * scale)
    k = int(np.argmax(err))
    res.max_err = float(err.flat[k])
    if res.max_err > rtol:
        res.problem = "values"
        idx = np.unravel_index(k, ref.shape)
        res.where = tuple(int(i) for i in idx)
        res.yours = float(s64[idx])
        res.expected = float(ref[idx])


def compare_outputs(student, reference, rtol, input_dtype=None, names=None):
    """Compare name -> array dicts. Every name of `reference` (or of `names`) must be in `student`.

    student: dict name -> array-like (missing names count as failures).
    reference: dict name -> ndarray. rtol: see RTOL. Returns a Report.
    """
    report = Report(rtol=rtol)
    for name in (names or reference):
        report.results.append(
            compare_array(name, student.get(name), reference[name], rtol, input_dtype))
    return report


def matches(student, reference, rtol, names=None):
    """Whether `student` matches `reference` (a mistake's outputs, in diagnosis): every output
    within rtol, or, where the reference holds NaN or inf (a mistake that overflows, such as
    exp of unshifted logits), NaN or inf in the student's outputs too, and only at entries where
    the reference has them."""
    names = list(names or reference)
    with np.errstate(all="ignore"):
        if compare_outputs(student, reference, rtol, names=names).ok:
            return True
        masks = []
        for name in names:
            ref = np.asarray(reference[name], dtype=np.float64)
            s = _as_array(student.get(name))
            if s is None or s.shape != ref.shape:
                return False
            masks.append((~np.isfinite(s.astype(np.float64)), ~np.isfinite(ref)))
    # the student's code overflows too, and only where the mistake's does
    return (any(bad.any() for bad, _ in masks)
            and all(not (bad & ~bad_ref).any() for bad, bad_ref in masks))


def failure_message(check, where, report, mistake=None):
    """What a student reads when a case fails: the check and the case, what differs (Report),
    and the likely mistake with its fix. The grader (feedback.py) and the student kit
    (offline.py) both word their verdicts with it."""
    lines = [f"{check.name} is not right yet: {where}.", report.describe(order=check.outputs)]
    if mistake is not None:
        lines.append(mistake.message())
    return "\n".join(lines)
