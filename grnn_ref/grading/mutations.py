"""Realistic mistakes planted into the solutions: one edit of one solution cell each.

Used by tests/test_nbgrader_workflow.py (every planted mistake must lose points and its
misconception must be named in the feedback) and handy for generating a class of submissions
(e.g. a grading benchmark). A mutation replaces `old` by `new` in the solution cell `cell`
(its nbgrader grade_id) of the solution-filled submission; `expect` is the misconception id the
feedback must name, or None when the mistake can only fail (e.g. a shape error).
"""
from typing import NamedTuple


class Mutation(NamedTuple):
    expect: object   # misconception id (grnn_ref.grading.misconceptions.BY_ID) or None
    cell: str        # grade_id of the solution cell
    old: str
    new: str


M = Mutation
_RNN_STEP = "a = x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh"
_LSTM_A = "a = x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh"

MUTATIONS = {
    "ex01_rnn": [
        M("rnn_W_hh_not_transposed", "rnn_step_forward", "h_prev @ p.W_hh.T", "h_prev @ p.W_hh"),
        M("rnn_no_transpose", "rnn_step_forward", _RNN_STEP,
          "a = x @ p.W_ih + p.b_ih + h_prev @ p.W_hh + p.b_hh"),
        M("rnn_missing_b_hh", "rnn_step_forward", " + p.b_hh", ""),
        M("rnn_missing_biases", "rnn_step_forward", _RNN_STEP,
          "a = x @ p.W_ih.T + h_prev @ p.W_hh.T"),
        M("rnn_sigmoid", "rnn_step_forward", "h_next = np.tanh(a)",
          "h_next = 1 / (1 + np.exp(-a))"),
        M("rnn_no_tanh", "rnn_step_forward", "h_next = np.tanh(a)", "h_next = a"),
        M("rnn_state_not_carried", "rnn_forward", "rnn_step_forward(xs[t], h, p)",
          "rnn_step_forward(xs[t], h0, p)"),
        M("rnn_stores_previous_state", "rnn_forward",
          "h, step_cache = rnn_step_forward(xs[t], h, p)\n        hs[t] = h",
          "hs[t] = h\n        h, step_cache = rnn_step_forward(xs[t], h, p)"),
    ],
    "ex02_bptt": [
        M("rnn_no_tanh_derivative", "rnn_step_backward", "da = dh_next * (1 - h_next ** 2)",
          "da = dh_next"),
        M("rnn_derivative_of_h_prev", "rnn_step_backward", "da = dh_next * (1 - h_next ** 2)",
          "da = dh_next * (1 - h_prev ** 2)"),
        M("rnn_dh_prev_transposed", "rnn_step_backward", "dh_prev = da @ p.W_hh",
          "dh_prev = da @ p.W_hh.T"),
        M("rnn_dW_hh_transposed", "rnn_step_backward", "da.T @ h_prev", "h_prev.T @ da"),
        M("rnn_grads_averaged", "rnn_step_backward",
          "dp = Params(da.T @ x, da.T @ h_prev, da.sum(axis=0), da.sum(axis=0))",
          "B = x.shape[0]\n    dp = Params(da.T @ x / B, da.T @ h_prev / B, da.mean(axis=0), "
          "da.mean(axis=0))"),
        M("rnn_bptt_no_carry", "rnn_backward", "rnn_step_backward(dhs[t] + dh, caches[t])",
          "rnn_step_backward(dhs[t], caches[t])"),
        M("rnn_params_not_summed_first", "rnn_backward",
          "grads = [total + g for total, g in zip(grads, dp_t)]", "grads = list(dp_t)"),
        M("numgrad_divided_by_h", "numerical_gradient", "(plus - minus) / (2 * h)",
          "(plus - minus) / h"),
        M("numgrad_one_sided", "numerical_gradient",
          "x[k] = old - h\n        minus = np.sum(f(x) * df)\n        x[k] = old\n"
          "        grad[k] = (plus - minus) / (2 * h)",
          "x[k] = old\n        minus = np.sum(f(x) * df)\n        grad[k] = (plus - minus) / h"),
        M("numgrad_not_restored", "numerical_gradient",
          "        x[k] = old\n        grad[k]", "        grad[k]"),
    ],
    "ex04_lstm": [
        M("lstm_gate_order_figo", "lstm_step_forward",
          "i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])",
          "f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H:2 * H])"),
        M("lstm_gate_order_ifog", "lstm_step_forward",
          "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
          "g = np.tanh(a[:, 3 * H:])\n    o = sigmoid(a[:, 2 * H:3 * H])"),
        # a three-cycle and a four-cycle of the blocks, not only swaps of two
        M("lstm_gate_order_gifo", "lstm_step_forward",
          "i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])\n    g = np.tanh(a[:, 2 * H:3 * H])",
          "i = sigmoid(a[:, H:2 * H])\n    f = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, :H])"),
        M("lstm_gate_order_oifg", "lstm_step_forward",
          "i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])\n"
          "    g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
          "i = sigmoid(a[:, H:2 * H])\n    f = sigmoid(a[:, 2 * H:3 * H])\n"
          "    g = np.tanh(a[:, 3 * H:])\n    o = sigmoid(a[:, :H])"),
        M("lstm_no_cell_tanh", "lstm_step_forward", "tanh_c = np.tanh(c_next)", "tanh_c = c_next"),
        M("lstm_candidate_sigmoid", "lstm_step_forward", "g = np.tanh(a[:, 2 * H:3 * H])",
          "g = sigmoid(a[:, 2 * H:3 * H])"),
        M("lstm_W_hh_not_transposed", "lstm_step_forward", _LSTM_A,
          "a = x @ p.W_ih.T + p.b_ih + p.b_hh + np.concatenate(\n"
          "        [h_prev @ p.W_hh[k * H:(k + 1) * H] for k in range(4)], axis=1)"),
        M("lstm_missing_b_ih", "lstm_step_forward", " + p.b_ih", ""),
        M("lstm_da_blocks_figo", "lstm_step_backward",
          "da = np.concatenate([di * i * (1 - i), df * f * (1 - f),",
          "da = np.concatenate([df * f * (1 - f), di * i * (1 - i),"),
        M("lstm_dc_ignores_dh", "lstm_step_backward",
          "dc = dc_next + dh_next * o * (1 - tanh_c ** 2)", "dc = dc_next"),
        M("lstm_no_tanh_derivative_c", "lstm_step_backward",
          "dc = dc_next + dh_next * o * (1 - tanh_c ** 2)", "dc = dc_next + dh_next * o"),
        M("lstm_dc_prev_without_f", "lstm_step_backward", "dc_prev = dc * f", "dc_prev = dc"),
        M("lstm_db_hh_missing", "lstm_step_backward", "da.sum(axis=0), da.sum(axis=0))",
          "da.sum(axis=0), np.zeros_like(p.b_hh))"),
        M("lstm_state_not_carried", "lstm_forward", "lstm_step_forward(xs[t], h, c, p)",
          "lstm_step_forward(xs[t], h0, c0, p)"),
        M("lstm_cell_not_carried", "lstm_forward", "lstm_step_forward(xs[t], h, c, p)",
          "lstm_step_forward(xs[t], h, c0, p)"),
        M("lstm_bptt_no_carry", "lstm_backward",
          "dc_in = dc if dcs is None else dc + dcs[t]\n"
          "        dxs[t], dh, dc, dp_t = lstm_step_backward(dhs[t] + dh, dc_in, caches[t])",
          "dc_in = np.zeros_like(dc) if dcs is None else dcs[t]\n"
          "        dxs[t], dh, dc, dp_t = lstm_step_backward(dhs[t], dc_in, caches[t])"),
        M("lstm_bptt_no_dc_carry", "lstm_backward", "dc_in = dc if dcs is None else dc + dcs[t]",
          "dc_in = np.zeros_like(dc) if dcs is None else dcs[t]"),
        M("lstm_params_not_summed_first", "lstm_backward",
          "grads = [total + g for total, g in zip(grads, dp_t)]", "grads = list(dp_t)"),
    ],
    "ex05_gru": [
        M("gru_update_flipped", "gru_step_forward", "h_next = (1 - z) * n + z * h_prev",
          "h_next = z * n + (1 - z) * h_prev"),
        M("gru_reset_before_matrix", "gru_step_forward", "n = np.tanh(ax[:, 2 * H:] + r * hn)",
          "n = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ p.W_hh[2 * H:].T + p.b_hh[2 * H:])"),
        M("gru_gate_order_zrn", "gru_step_forward",
          "r = sigmoid(ax[:, :H] + ah[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
          "z = sigmoid(ax[:, :H] + ah[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])"),
        M("gru_candidate_sigmoid", "gru_step_forward", "n = np.tanh(ax[:, 2 * H:] + r * hn)",
          "n = sigmoid(ax[:, 2 * H:] + r * hn)"),
        M("gru_b_hn_outside_reset", "gru_step_forward", "n = np.tanh(ax[:, 2 * H:] + r * hn)",
          "n = np.tanh(ax[:, 2 * H:] + r * (hn - p.b_hh[2 * H:]) + p.b_hh[2 * H:])"),
        M("gru_missing_b_hh", "gru_step_forward", "ah = h_prev @ p.W_hh.T + p.b_hh",
          "ah = h_prev @ p.W_hh.T"),
        M("gru_no_direct_path", "gru_step_backward", "dh_prev = dah @ p.W_hh + dh_next * z",
          "dh_prev = dah @ p.W_hh"),
        M("gru_no_r_in_dhn", "gru_step_backward", "dah = np.concatenate([dar, daz, dan * r], axis=1)",
          "dah = np.concatenate([dar, daz, dan], axis=1)"),
        M("gru_state_not_carried", "gru_forward", "gru_step_forward(xs[t], h, p)",
          "gru_step_forward(xs[t], h0, p)"),
        M("gru_bptt_no_carry", "gru_backward", "gru_step_backward(dhs[t] + dh, caches[t])",
          "gru_step_backward(dhs[t], caches[t])"),
        M("gru_params_not_summed_first", "gru_backward",
          "grads = [total + g for total, g in zip(grads, dp_t)]", "grads = list(dp_t)"),
    ],
    "ex03_vanishing": [
        M("jacobian_W_hh_transposed", "rnn_jacobian", "p.W_hh[None, :, :]", "p.W_hh.T[None, :, :]"),
        M("norms_product_reversed", "jacobian_norms", "P = rnn_jacobian(hs[t], p) @ P",
          "P = P @ rnn_jacobian(hs[t], p)"),
        M("bound_off_by_one", "gradient_bound", "np.arange(1, T + 1)", "np.arange(T)"),
        M("clip_per_array", "clip_gradients",
          "total = np.sqrt(sum(np.sum(g ** 2) for g in grads))\n"
          "    scale = min(1.0, max_norm / total) if total > 0 else 1.0\n"
          "    return Params(*(g * scale for g in grads))",
          "return Params(*(g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads))"),
        M("clip_always", "clip_gradients", "min(1.0, max_norm / total)", "max_norm / total"),
        M(None, "decay_rate", "decay_rate = np.exp(slope)", "decay_rate = slope"),
    ],
    "ex06_torch": [
        M("lstm_gate_order_igfo", "LSTMCell", "a_i, a_f, a_g, a_o = a.chunk(4, dim=1)",
          "a_i, a_g, a_f, a_o = a.chunk(4, dim=1)"),
        M("lstm_no_cell_tanh", "LSTMCell", "h_next = torch.sigmoid(a_o) * torch.tanh(c_next)",
          "h_next = torch.sigmoid(a_o) * c_next"),
        M(None, "LSTMCell", "self.bias_hh = nn.Parameter(torch.empty(4 * H).uniform_(-k, k))",
          "self.bias_hh = torch.zeros(4 * H)"),
    ],
    "ex08_charlm": [
        M("softmax_no_max_subtraction", "softmax_cross_entropy",
          "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"),
        M("ce_gradient_not_divided", "softmax_cross_entropy", "return loss, dlogits / N",
          "return loss, dlogits"),
        M("ce_no_minus_one", "softmax_cross_entropy", "    dlogits[rows, targets] -= 1\n", ""),
        M("output_grads_averaged", "output_backward",
          "dW_hy = dz.T @ hs.reshape(-1, H)\n    db_y = dz.sum(axis=0)",
          "dW_hy = dz.T @ hs.reshape(-1, H) / len(dz)\n    db_y = dz.mean(axis=0)"),
        M("temperature_after_softmax", "sample_with_temperature",
          "z = np.asarray(logits, dtype=np.float64) / temperature",
          "z = np.asarray(logits, dtype=np.float64)"),
    ],
    "ex09_mingru": [
        M("scan_b_not_scaled", "linear_scan", "B[d:] = A[d:] * B[:-d] + B[d:]",
          "B[d:] = B[:-d] + B[d:]"),
        M("scan_A_updated_first", "linear_scan",
          "B[d:] = A[d:] * B[:-d] + B[d:]\n        A[d:] = A[d:] * A[:-d]",
          "A[d:] = A[d:] * A[:-d]\n        B[d:] = A[d:] * B[:-d] + B[d:]"),
        M("scan_too_few_rounds", "linear_scan", "while d < T:", "while 2 * d < T:"),
        M("scan_ignores_h0", "linear_scan", "return A * h0 + B", "return B"),
        M("mingru_gate_swapped", "mingru_forward", "linear_scan(z, (1 - z) * n, h0)",
          "linear_scan(1 - z, z * n, h0)"),
        M("mingru_tanh_candidate", "mingru_forward", "n = k[..., H:]", "n = np.tanh(k[..., H:])"),
    ],
    "ex07_gates": [
        M("lstm_gate_order_figo", "lstm_gate_trace",
          "i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])",
          "f, i = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])"),
        M(None, "input_gate_at_marker", "[:, :, memory_unit][marked].mean()",
          "[:, :, memory_unit].mean()"),
        M(None, "time_constant", "1.0 / (1.0 - trace[\"f\"][:, :, memory_unit].mean())",
          "1.0 / trace[\"f\"][:, :, memory_unit].mean()"),
    ],
}
