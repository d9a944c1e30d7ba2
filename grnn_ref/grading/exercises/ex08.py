"""Exercise 8 (a character-level language model): softmax cross-entropy forward and backward, the
output layer's backward into dhs, and sampling with a temperature (checked statistically).

The reference is grnn_ref.language_model (imported only inside the grader-side methods), and so
are the mistakes these checks name (`catalogue`: its `misconceptions()`). A sampling mistake is a
changed distribution (language_model.sampling_probs), recognised from the counts of the draws
(`SamplingCheck.evaluate`).
"""
import numpy as np

from grnn_ref.grading.cases import BadOutput, Check, Verdict, register, tuple_of

# A logit offset whose exp overflows in float32 (above ~88) and float64 (above ~709).
LARGE_OFFSET = 1000.0


def _logits(shape, rng, lead):
    dt = np.dtype(shape["dtype"])
    z = 2.0 * rng.standard_normal(lead + (shape["V"],))
    if shape.get("large"):
        z = z + LARGE_OFFSET
    return z.astype(dt)


class SoftmaxCrossEntropyCheck(Check):
    """softmax_cross_entropy(logits (N, V), targets (N,)) -> (loss, dlogits (N, V)); N is the
    case's B. The loss may come back as a Python float: it is recorded in the logits' dtype."""
    family = "softmax_ce"
    catalogue = "grnn_ref.language_model"

    def build(self, shape, rng):
        N = shape["B"]
        return {"logits": _logits(shape, rng, (N,)),
                "targets": rng.integers(0, shape["V"], N).astype(np.int64)}

    def call(self, fns, inputs):
        loss, dlogits = tuple_of(fns[0](inputs["logits"], inputs["targets"]), 2,
                                 "(loss, dlogits)")
        try:
            loss = np.asarray(loss, dtype=np.float64).astype(inputs["logits"].dtype)
        except (TypeError, ValueError):
            raise BadOutput(f"the loss must be one number, got {type(loss).__name__}") from None
        if loss.size != 1:
            raise BadOutput(f"the loss must be one number (the mean over the N rows), got an "
                            f"array of shape {loss.shape}")
        return {"loss": loss.reshape(()), "dlogits": dlogits}

    def reference(self, inputs):
        from grnn_ref.language_model import softmax_cross_entropy
        loss, dlogits = softmax_cross_entropy(inputs["logits"], inputs["targets"])
        return {"loss": loss, "dlogits": dlogits}


class OutputBackwardCheck(Check):
    """output_backward(dlogits (T, B, V), hs (T, B, H), W_hy (V, H)) -> (dhs, dW_hy, db_y)."""
    family = "output_backward"
    catalogue = "grnn_ref.language_model"

    def build(self, shape, rng):
        dt = np.dtype(shape["dtype"])
        T, B, H, V = shape["T"], shape["B"], shape["H"], shape["V"]
        return {"dlogits": rng.standard_normal((T, B, V)).astype(dt),
                "hs": rng.uniform(-1, 1, (T, B, H)).astype(dt),
                "W_hy": rng.uniform(-1, 1, (V, H)).astype(dt)}

    def call(self, fns, inputs):
        dhs, dW_hy, db_y = tuple_of(fns[0](inputs["dlogits"], inputs["hs"], inputs["W_hy"]), 3,
                                    "(dhs, dW_hy, db_y)")
        return {"dhs": dhs, "dW_hy": dW_hy, "db_y": db_y}

    def reference(self, inputs):
        from grnn_ref.language_model import output_backward
        dhs, dW_hy, db_y = output_backward(inputs["dlogits"], inputs["hs"], inputs["W_hy"])
        return {"dhs": dhs, "dW_hy": dW_hy, "db_y": db_y}


# Draws per sampling case, and the largest |z| accepted per character: with N = 4000 draws the
# count of a character of probability p is N p +- sqrt(N p (1 - p)); |z| > 6 happens by chance
# with probability ~2e-9 per character, while every mistake below moves some count by >= 10 sigma
# on the cases used (measured: tests/test_ex08.py).
N_DRAWS = 4000
MAX_Z = 6.0


def _max_z(counts, p):
    n = counts.sum()
    return float(np.max(np.abs(counts - n * p) / np.sqrt(n * p * (1 - p) + 1.0)))


class SamplingCheck(Check):
    # a statistical verdict on the counts of the draws (evaluate): the kit records it, the grader
    # judges it
    """sample_with_temperature(logits (V,), temperature, rng) -> int, called N_DRAWS times with
    one numpy Generator seeded by the case; the counts of each id must fit softmax(z / T)
    (z-test per id), and T = 0 must always give the argmax."""
    family = "sampling"
    compared_with_reference = False
    catalogue = "grnn_ref.language_model"

    def build(self, shape, rng):
        return {"logits": _logits(shape, rng, ()),
                "temperature": np.array(shape["temperature"], dtype=np.float64),
                "seed": np.array(rng.integers(2 ** 31), dtype=np.int64)}

    def call(self, fns, inputs):
        V = inputs["logits"].shape[0]
        gen = np.random.default_rng(int(inputs["seed"]))
        temperature = float(inputs["temperature"])
        draws = np.empty(N_DRAWS, dtype=np.int64)
        for k in range(N_DRAWS):
            d = fns[0](inputs["logits"].copy(), temperature, gen)
            if not isinstance(d, (int, np.integer)) or not 0 <= int(d) < V:
                if isinstance(d, np.ndarray) and d.size == 1 and np.issubdtype(d.dtype, np.integer):
                    d = int(d.reshape(()))
                else:
                    raise BadOutput(f"expected one character id, an int in [0, {V}), got {d!r}")
            draws[k] = int(d)
        return {"counts": np.bincount(draws, minlength=V)}

    def reference(self, inputs):
        """The expected counts, N_DRAWS * softmax(logits / T) (a mistake's variant gives the
        expected counts of its own distribution)."""
        from grnn_ref.language_model import sampling_probs
        return {"counts": N_DRAWS * sampling_probs(inputs["logits"], float(inputs["temperature"]))}

    def evaluate(self, case_id, inputs, outputs, secret=None):
        from grnn_ref.grading import misconceptions
        from grnn_ref.language_model import sampling_probs
        where = f"{self.name} is not right yet: case {case_id} ({self.describe_case(case_id, secret)})"
        counts = np.asarray(outputs.get("counts"), dtype=np.float64)
        T = float(inputs["temperature"])
        p = sampling_probs(inputs["logits"], T)
        if counts.shape != p.shape or abs(counts.sum() - N_DRAWS) > 1e-6:
            return Verdict(False, f"{where}: the draws could not be counted.")
        if T == 0:
            best = int(np.argmax(inputs["logits"]))
            if counts[best] == N_DRAWS:
                return Verdict(True)
            msg = (f"{where}: at temperature 0 (greedy decoding) every draw must be the most "
                   f"likely id {best}; {int(N_DRAWS - counts[best])} of your {N_DRAWS} draws were "
                   f"not. Temperature -> 0 puts all the probability on the largest logit.")
            return Verdict(False, msg)
        z = _max_z(counts, p)
        if z <= MAX_Z:
            return Verdict(True)
        worst = int(np.argmax(np.abs(counts - N_DRAWS * p) / np.sqrt(N_DRAWS * p * (1 - p) + 1)))
        msg = (f"{where}: over {N_DRAWS} draws with a seeded generator, id {worst} came "
               f"{int(counts[worst])} times; softmax(logits / T) expects about "
               f"{N_DRAWS * p[worst]:.0f} (relative error "
               f"{abs(counts[worst] / (N_DRAWS * p[worst]) - 1):.2g}, a deviation of {z:.1f} "
               f"standard deviations).")
        if not np.all(np.isfinite(inputs["logits"].astype(np.float64) / T)) or np.max(
                inputs["logits"]) > 80:
            msg += (" These logits are large: if your probabilities overflowed, subtract the "
                    "largest scaled logit before exponentiating (chapter 8).")
        for m in misconceptions.for_check(self.name):
            q = m.variant(self.name, inputs)["counts"] / N_DRAWS
            if _max_z(N_DRAWS * q, p) > MAX_Z and _max_z(counts, q) <= MAX_Z:
                return Verdict(False, f"{msg}\n{m.message()}", m)
        return Verdict(False, msg)


def _case(**spec):
    """A case's size spec (no D or H where the check has none, unlike cases.size)."""
    spec.setdefault("dtype", "float64")
    return spec


register(SoftmaxCrossEntropyCheck(
    "softmax_cross_entropy", ("loss", "dlogits"),
    (_case(B=4, V=5), _case(B=1, V=3, dtype="float32"), _case(B=3, V=6, large=True),
     _case(B=2, V=4, dtype="float32", large=True)),
    (_case(B=5, V=7), _case(B=1, V=9, dtype="float32"), _case(B=6, V=3, large=True),
     _case(B=3, V=10, dtype="float32", large=True), _case(B=8, V=65))))
register(OutputBackwardCheck(
    "output_backward", ("dhs", "dW_hy", "db_y"),
    (_case(T=3, B=2, H=4, V=5), _case(T=1, B=1, H=3, V=3, dtype="float32"),
     _case(T=2, B=3, H=4, V=4)),
    (_case(T=4, B=2, H=5, V=7), _case(T=1, B=3, H=2, V=6, dtype="float32"),
     _case(T=5, B=1, H=6, V=6), _case(T=3, B=4, H=3, V=8, dtype="float32"))))
# Large logits only where exp(z / T) overflows (z / T > 709): T < 1.4 with the offset 1000.
register(SamplingCheck(
    "sample_with_temperature", ("counts",),
    (_case(V=4, temperature=1.0), _case(V=6, temperature=2.0, dtype="float32"),
     _case(V=5, temperature=0.0), _case(V=5, temperature=0.5, large=True)),
    (_case(V=7, temperature=0.3), _case(V=3, temperature=1.5, dtype="float32"),
     _case(V=8, temperature=0.0, large=True), _case(V=6, temperature=0.7, large=True))))

