"""Exercise 7 (inside the gates): the gate trace of an LSTM forward pass, and three numbers read off
a trained LSTM (the memory unit, its input gate at the marked steps, its time constant)."""
from grnn_ref.grading.cases import AnswerCheck, BadOutput, Check, params_of, register
from grnn_ref.grading.cells import CELL_CHECKS, SEQ_HIDDEN, SEQ_VISIBLE

_LSTM_FORWARD = CELL_CHECKS["lstm_forward"]


class GateTraceCheck(Check):
    """lstm_gate_trace(xs, h0, c0, p) -> {"hs", "cs", "i", "f", "g", "o"}, each (T, B, H)."""
    family = "trace"

    def build(self, shape, rng):
        return _LSTM_FORWARD.build(shape, rng)

    def call(self, fns, inputs):
        trace = fns[0](inputs["xs"], inputs["h0"], inputs["c0"], params_of(inputs))
        if not isinstance(trace, dict):
            raise BadOutput(f"expected a dict with keys 'hs', 'cs', 'i', 'f', 'g', 'o', got a "
                            f"{type(trace).__name__}")
        return {k: trace.get(k) for k in self.outputs if trace.get(k) is not None}

    def reference(self, inputs):
        from grnn_ref.lstm import lstm_forward, lstm_gates

        hs, cs, cache = lstm_forward(inputs["xs"], inputs["h0"], inputs["c0"], params_of(inputs))
        return {"hs": hs, "cs": cs, **lstm_gates(cache)}


def _analysis(key):
    def expected():
        from grnn_ref.grading.reference import ex07_analysis
        return ex07_analysis()[key]
    return expected


register(GateTraceCheck("lstm_gate_trace", ("hs", "cs", "i", "f", "g", "o"), SEQ_VISIBLE,
                        SEQ_HIDDEN, kind="lstm", diagnose_as="lstm_forward"))
register(AnswerCheck("ex07_memory_unit", _analysis("ex07_memory_unit"), 0))
# The correlation itself tells the cell state (0.943) from the hidden state (0.940) and the
# absolute value from the signed one (the memory unit's correlation is negative).
register(AnswerCheck("ex07_memory_correlation", _analysis("ex07_memory_correlation"), 1e-3))
register(AnswerCheck("ex07_input_gate_at_marker", _analysis("ex07_input_gate_at_marker"), 0.02))
register(AnswerCheck("ex07_time_constant", _analysis("ex07_time_constant"), 0.03))
