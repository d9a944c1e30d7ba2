"""Exercise 8's checks: the reference passes, the known mistakes are named, the statistical
sampling check does not fail a correct sampler, and the try-it's small model learns below the
unigram baseline."""
import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from grnn_ref import language_model as L
from grnn_ref.grading import (CheckFailed, check_output_backward, check_sample_with_temperature,
                              check_softmax_cross_entropy)
from grnn_ref.grading import misconceptions as M
from grnn_ref.grading.cases import SEED_ENV

REPO = Path(__file__).resolve().parents[1]


def test_the_reference_passes_every_case_of_the_three_checks():
    for fn, check in ((L.softmax_cross_entropy, check_softmax_cross_entropy),
                      (L.output_backward, check_output_backward),
                      (L.sample_with_temperature, check_sample_with_temperature)):
        check(fn)
        check(fn, hidden=True)


def test_the_stable_loss_is_finite_for_logits_of_1000_and_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss, dz = L.softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(6), y]).mean(), rel=1e-12)
    big_loss, big_dz = L.softmax_cross_entropy(z + 1000.0, y)   # softmax is shift-invariant
    assert big_loss == pytest.approx(loss, rel=1e-9) and np.allclose(big_dz, dz)
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-15)      # each row: p - onehot


def _naive(logits, targets):
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    N = len(targets)
    g = p.copy()
    g[np.arange(N), targets] -= 1
    return np.mean(-np.log(p[np.arange(N), targets])), g / N


def _after_softmax(logits, temperature, rng):
    if temperature == 0:
        return int(np.argmax(logits))
    p = L.softmax(np.asarray(logits, dtype=np.float64)) / temperature
    return int(rng.choice(len(p), p=p / p.sum()))


def _greedy(logits, temperature, rng):
    return int(np.argmax(logits))


@pytest.mark.parametrize("fn,check,mistake", [
    (_naive, check_softmax_cross_entropy, "softmax_no_max_subtraction"),
    (_after_softmax, check_sample_with_temperature, "temperature_after_softmax"),
    (_greedy, check_sample_with_temperature, "sampling_always_greedy"),
])
def test_a_students_mistake_fails_and_is_named(fn, check, mistake):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    assert M.BY_ID[mistake].title in str(info.value)


@pytest.mark.parametrize("secret", ["one class", "another class", "a third"])
def test_the_statistical_check_passes_a_correct_sampler_whatever_the_hidden_seeds(secret,
                                                                                  monkeypatch):
    # written differently from the reference (inverse CDF on uniforms), so the draws differ
    def by_inverse_cdf(logits, temperature, rng):
        if temperature == 0:
            return int(np.argmax(logits))
        p = L.softmax(np.asarray(logits, dtype=np.float64), temperature)
        return int(min(np.searchsorted(np.cumsum(p), rng.random(), side="right"), len(p) - 1))

    monkeypatch.setenv(SEED_ENV, secret)
    check_sample_with_temperature(by_inverse_cdf, hidden=True)


def test_the_try_it_trains_below_the_unigram_baseline_with_the_solution(monkeypatch):
    folder = REPO / "solutions" / "ex08_charlm"
    nb = json.loads((folder / "ex08_charlm.ipynb").read_text())
    monkeypatch.chdir(folder)
    ns, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                exec("".join(cell["source"]), ns)
    text = out.getvalue()
    unigram = float(re.search(r"unigram baseline ([\d.]+)", text).group(1))
    losses = [float(x) for x in re.findall(r"loss ([\d.]+) nats/char", text)]
    assert losses[0] > unigram > losses[-1] + 0.5
