"""Do the visible cases predict the grade? `python -m grnn_ref.grading.coverage`

Grader side. For every known mistake and every check it applies to, a mistake is "caught" by a set
of cases when the check fails on at least one of them: the mistaken code's outputs differ from the
reference beyond the tolerance, have the wrong dtype, or the code would raise on the case's shapes.
The mistakes are the misconception catalogue (grading.misconceptions) plus the contract mistakes
the student guide warns about, which no catalogue entry names: outputs in float64 whatever the
inputs, and sizes written into the code (those of the first visible case).

    coverage = (mistakes the visible cases catch) / (mistakes the hidden cases catch)

A coverage of 1 means a notebook whose visible tests pass loses no hidden points to a known mistake.
The course's target is >= 0.95 (tests/test_coverage.py asserts it).
"""
import argparse
from dataclasses import dataclass, field

import numpy as np

from grnn_ref.grading import compare, misconceptions
from grnn_ref.grading.cases import get_check


@dataclass
class Mistake:
    id: str
    check: str
    visible: bool = False     # caught by a visible case
    hidden: bool = False      # caught by a hidden case


@dataclass
class Coverage:
    mistakes: list = field(default_factory=list)

    @property
    def caught_visible(self):
        return sum(m.visible for m in self.mistakes)

    @property
    def caught_hidden(self):
        return sum(m.hidden for m in self.mistakes)

    @property
    def ratio(self):
        return self.caught_visible / self.caught_hidden if self.caught_hidden else 1.0

    def missed(self):
        """Mistakes the hidden cases catch and the visible ones do not."""
        return [m for m in self.mistakes if m.hidden and not m.visible]


def _float64(check, inputs, ref, shape):
    return {n: np.asarray(v, dtype=np.float64) for n, v in ref.items()}


def _fixed_sizes(first_shape):
    """Code with the sizes of the first visible case written into it: it raises on any other."""
    def variant(check, inputs, ref, shape):
        if any(shape.get(k) != first_shape.get(k) for k in ("T", "B", "D", "H")):
            raise misconceptions.ShapeInvalid
        return {}
    return variant


def _contract_mistakes(check):
    """(id, variant(check, inputs, reference_outputs)) of the contract mistakes for a check."""
    c = get_check(check)
    yield "returns_float64", _float64
    first = c.case_shape(c.case_ids()[0])
    if any(k in first for k in ("B", "D", "H")):
        yield "fixed_sizes", _fixed_sizes(first)


def _caught(check, variant, case_ids, cache):
    """Does the check fail, on at least one of `case_ids`, for code whose outputs are variant's
    (variant(inputs, reference_outputs, case_shape) -> the outputs it changes)?"""
    c = get_check(check)
    for case_id in case_ids:
        inputs, ref = cache(check, case_id)
        try:
            with np.errstate(all="ignore"):
                out = variant(inputs, ref, c.case_shape(case_id))
        except misconceptions.ShapeInvalid:
            return True                      # the mistaken code raises on this case
        dtype = compare.input_dtype(inputs)
        student = {**ref, **out}
        report = compare.compare_outputs(student, ref, compare.rtol_for(dtype, c.rtol),
                                         input_dtype=dtype)
        if not report.ok:
            return True
    return False


def measure():
    """The Coverage of every catalogued and contract mistake over the registered checks."""
    memo = {}

    def cache(check, case_id):
        if (check, case_id) not in memo:
            c = get_check(check)
            inputs = c.make_inputs(case_id)
            memo[check, case_id] = inputs, c.reference(inputs)
        return memo[check, case_id]

    result = Coverage()
    pairs = []
    for m in misconceptions.CATALOG + misconceptions.EXTRA:
        for check in m.checks:
            pairs.append((m.id, check, _bind(m.variant, check)))
    contract = sorted({check for _, check, _ in pairs})
    for check in contract:
        for mid, variant in _contract_mistakes(check):
            pairs.append((mid, check, _bind_contract(variant, check)))
    for mid, check, variant in pairs:
        c = get_check(check)
        result.mistakes.append(Mistake(
            mid, check,
            visible=_caught(check, variant, c.case_ids(), cache),
            hidden=_caught(check, variant, c.case_ids(True), cache)))
    return result


def _bind(variant, check):
    return lambda inputs, ref, shape: variant(check, inputs)


def _bind_contract(variant, check):
    return lambda inputs, ref, shape: variant(check, inputs, ref, shape)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grnn_ref.grading.coverage",
                                     description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    cov = measure()
    by_check = {}
    for m in cov.mistakes:
        by_check.setdefault(m.check, []).append(m)
    print(f"{'check':24s} {'mistakes':>8s} {'visible':>8s} {'hidden':>8s}")
    for check, ms in sorted(by_check.items()):
        print(f"{check:24s} {len(ms):8d} {sum(m.visible for m in ms):8d} "
              f"{sum(m.hidden for m in ms):8d}")
    print(f"\n{len(cov.mistakes)} (mistake, check) pairs; the visible cases catch "
          f"{cov.caught_visible}, the hidden cases {cov.caught_hidden}: "
          f"coverage {cov.ratio:.3f} (target >= 0.95)")
    for m in cov.missed():
        print(f"  caught only by hidden cases: {m.id} on {m.check}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
