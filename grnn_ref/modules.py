"""RNN, LSTM and GRU as torch modules, written from the equations (chapters 1, 4, 5).

Drop-in replacements for torch.nn.RNN / LSTM / GRU: the same constructor arguments, the same
forward signature and return values, the same state_dict keys (weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0, ...) and the same initialisation U(-1/sqrt(H), 1/sqrt(H)), so

    ours = grnn_ref.modules.LSTM(D, H)
    ours.load_state_dict(torch.nn.LSTM(D, H).state_dict())

computes the same outputs and gradients as torch.nn.LSTM. The math is the course's (and
PyTorch's), in its notation: x_t (B, D), h and c (B, H), gate blocks stacked by rows of
W_ih (G*H, D), W_hh (G*H, H), b_ih, b_hh (G*H,) in the order

    RNN  (G = 1): h
    LSTM (G = 4): i, f, g, o
    GRU  (G = 3): r, z, n

How they are computed (and why it is fast):

1. The input projection of every time step is one matrix multiply before the recurrence,
   A = X W_ih^T + b (X is (T*B, D)): it does not depend on h, so there is no reason to do it
   T times on B rows each.
2. The recurrence then does one multiply per step, h_{t-1} W_hh^T (B, H) x (H, G*H), and the
   gate nonlinearities, in place in preallocated (T, B, ...) buffers.
3. The backward pass is written by hand (backpropagation through time, chapter 2), in a
   torch.autograd.Function: the per-step loop only carries dh (and dc) back through W_hh; the
   parameter gradients are single matrix multiplies over all steps at once,
   dW_ih = dA^T X, dW_hh = dA^T H_prev, db = sum of dA, and dX = dA W_ih. The elementwise
   factors of the gate derivatives (sigma' = s(1-s), tanh' = 1-t^2) do not depend on the
   incoming gradient, so they are computed for all steps at once before the loop.

Setting `module.use_autograd = True` switches to a plain step-by-step forward whose backward is
left to autograd (same equations, slower, supports double backward); the tests check that both
paths agree with torch.nn.

Extras for the experiments of chapter 7 ("Inside the gates"):

- `LSTM.gate_trace(input, hx=None)` / `GRU.gate_trace(...)`: the gate activations of a forward
  pass, a dict of (T, B, H) tensors ("i", "f", "g", "o", "c", "h" / "r", "z", "n", "h").
- `fixed_gates`: a dict {gate name: constant} (constructor keyword or attribute) forcing gates to
  a constant in every forward pass, e.g. LSTM(..., fixed_gates={"f": 1.0}) for an LSTM that never
  forgets. Training works with it (a fixed gate passes no gradient to its own weights).
- `set_forget_bias(module, value)` for this LSTM and torch.nn.LSTM.

This module imports torch; `import grnn_ref` does not import it (grnn_ref.modules loads lazily).
"""
import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["RNN", "LSTM", "GRU", "set_forget_bias"]


# --------------------------------------------------------------------------- the tanh/ReLU RNN
class _RNNLayer(torch.autograd.Function):
    """One layer, one direction of the Elman RNN over a whole sequence.

        h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   phi = tanh or relu

    forward(xs (T, B, D), h0 (B, H), W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,), relu: bool)
    -> hs (T, B, H), h_T (B, H)
    """

    @staticmethod
    def forward(ctx, xs, h0, W_ih, W_hh, b_ih, b_hh, relu):
        T, B, D = xs.shape
        H = W_hh.shape[1]
        # hs[t] first holds the pre-activation x_t W_ih^T + b, then h_t, in place.
        hs = torch.addmm(b_ih + b_hh, xs.reshape(T * B, D), W_ih.t()).view(T, B, H)
        h_t = hs.unbind(0)
        W_hh_t = W_hh.t()
        h_prev = h0
        for t in range(T):
            h_t[t].addmm_(h_prev, W_hh_t)
            if relu:
                h_t[t].relu_()
            else:
                h_t[t].tanh_()
            h_prev = h_t[t]
        ctx.relu = relu
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(xs, h0, W_ih, W_hh, hs)
        return hs, hs[T - 1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dhs, dh_T):
        xs, h0, W_ih, W_hh, hs = ctx.saved_tensors
        T, B, D = xs.shape
        H = W_hh.shape[1]
        # phi'(a_t) for every step at once: relu' = [h > 0], tanh' = 1 - h^2
        dphi = (hs > 0).to(hs.dtype) if ctx.relu else 1 - hs * hs
        if dhs is None:
            dhs = torch.zeros_like(hs)
        dA = torch.empty_like(hs)             # dL/da_t, the pre-activation gradients
        dA_t = dA.unbind(0)
        dh = dhs[T - 1] if dh_T is None else dhs[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            torch.mul(dh, dphi[t], out=dA_t[t])
            # dL/dh_{t-1} = (its own output gradient) + da_t W_hh
            dh = torch.addmm(dhs[t - 1], dA_t[t], W_hh) if t > 0 else dA_t[0] @ W_hh
        need = ctx.needs_input_grad
        return (_input_grad(need[0], dA, xs, W_ih), dh,
                *_param_grads(need[2:6], xs, dA, dA, h0, hs), None)


def _input_grad(need, dA, xs, W_ih):
    """dxs = dA W_ih (T, B, D), one matrix multiply, or None if xs needs no gradient."""
    T, B, D = xs.shape
    return (dA.reshape(T * B, -1) @ W_ih).view(T, B, D) if need else None


def _param_grads(need, xs, dA_x, dA_h, h0, hs):
    """dW_ih, dW_hh, db_ih, db_hh as matrix multiplies and sums over all steps at once.

    need: 4 booleans (W_ih, W_hh, b_ih, b_hh need a gradient); xs (T, B, D); h0 (B, H);
    hs (T, B, H); dA_x (T, B, G*H): gradient of the input projection x_t W_ih^T + b_ih;
    dA_h (T, B, G*H): gradient of the recurrent projection h_{t-1} W_hh^T + b_hh (the same
    tensor except for the GRU's n block). h_{t-1} is h0 for t = 0 and hs[t-1] after, so
    dW_hh = dA_h[0]^T h0 + sum_{t>=1} dA_h[t]^T hs[t-1], without concatenating h0 and hs.
    """
    T, B, GH = dA_x.shape
    H = hs.shape[2]
    dW_ih = dA_x.reshape(T * B, GH).t() @ xs.reshape(T * B, -1) if need[0] else None
    dW_hh = None
    if need[1]:
        dW_hh = dA_h[0].t() @ h0
        if T > 1:
            dW_hh.addmm_(dA_h[1:].reshape((T - 1) * B, GH).t(), hs[:T - 1].reshape(-1, H))
    db_ih = dA_x.sum((0, 1)) if need[2] else None
    db_hh = None
    if need[3]:
        # the same sum when both projections have the same gradient (RNN, LSTM): sum once
        db_hh = db_ih.clone() if dA_h is dA_x and db_ih is not None else dA_h.sum((0, 1))
    return dW_ih, dW_hh, db_ih, db_hh


# --------------------------------------------------------------------------- the LSTM
def _sigmoid_grad(u, s, out=None):
    """u * s * (1 - s) in one pass: u times sigma'(a) given s = sigma(a)."""
    if out is None:
        return torch.ops.aten.sigmoid_backward(u, s)
    return torch.ops.aten.sigmoid_backward.grad_input(u, s, grad_input=out)


def _tanh_grad(u, t, out=None):
    """u * (1 - t^2) in one pass: u times tanh'(a) given t = tanh(a)."""
    if out is None:
        return torch.ops.aten.tanh_backward(u, t)
    return torch.ops.aten.tanh_backward.grad_input(u, t, grad_input=out)


_LSTM_GATES = ("i", "f", "g", "o")
_GRU_GATES = ("r", "z", "n")


# The LSTM's gate blocks are stored i, f, g, o (torch.nn's order, kept in the parameters); the
# forward pass works on a copy of the weights reordered i, f, o, g so that the three sigmoid gates
# are one contiguous block: one sigmoid call per step instead of two.
_IFOG = (0, 1, 3, 2)       # block k of the i, f, o, g layout is block _IFOG[k] of i, f, g, o
_IFOG_POS = (0, 1, 3, 2)   # gate k of i, f, g, o sits at block _IFOG_POS[k] of i, f, o, g
_ifog_rows = {}


def _ifog_index(H, device):
    """Row indices (4H,) taking a (4H, ...) i, f, g, o stack to the order i, f, o, g (cached)."""
    key = (H, str(device))
    if key not in _ifog_rows:
        _ifog_rows[key] = torch.arange(4 * H, device=device).view(4, H)[list(_IFOG)].reshape(-1)
    return _ifog_rows[key]


class _LSTMLayer(torch.autograd.Function):
    """One layer, one direction of the LSTM over a whole sequence (PyTorch's torch.nn.LSTM).

        a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh      (B, 4H), blocks i, f, g, o
        i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    forward(xs (T, B, D), h0 (B, H), c0 (B, H), W_ih (4H, D), W_hh (4H, H), b_ih, b_hh (4H,),
            fixed: tuple of (gate index, value)) -> hs (T, B, H), cs (T, B, H), gates (T, B, 4H),
            h_T (B, H), c_T (B, H). A fixed gate is overwritten by its constant after its
            nonlinearity, so its derivative is 0. `gates` holds the activations in the order
            i, f, o, g (see _IFOG); it is returned for gate_trace only and must not be
            differentiated.

    Per step the forward pass makes 7 calls (the recurrent multiply, one sigmoid over i, f, o,
    one tanh, two for c_t, two for h_t) and the backward pass 4 (see backward); everything
    else is done for all steps at once.
    """

    @staticmethod
    def forward(ctx, xs, h0, c0, W_ih, W_hh, b_ih, b_hh, fixed):
        T, B, D = xs.shape
        H = W_hh.shape[1]
        rows = _ifog_index(H, xs.device)
        # gates[t] first holds a_t's input part, then a_t, then the activations, in place.
        gates = torch.addmm((b_ih + b_hh).index_select(0, rows), xs.reshape(T * B, D),
                            W_ih.index_select(0, rows).t()).view(T, B, 4 * H)
        # W_hh^T reordered, as a contiguous (H, 4H) matrix (a transposed view is slower here)
        W_hh_t = W_hh.t().index_select(1, rows)
        hs = xs.new_empty(T, B, H)
        cs = xs.new_empty(T, B, H)
        tanh_cs = xs.new_empty(T, B, H)
        a_t, ifo_t, g_t = (gates.unbind(0), gates[..., :3 * H].unbind(0),
                           gates[..., 3 * H:].unbind(0))
        i_t, f_t, o_t = (gates[..., k * H:(k + 1) * H].unbind(0) for k in range(3))
        blocks = gates.view(T, B, 4, H)
        fill = [(_IFOG_POS[k], value) for k, value in fixed]
        h_t, c_t, tc_t = hs.unbind(0), cs.unbind(0), tanh_cs.unbind(0)
        h_prev, c_prev = h0, c0
        for t in range(T):
            a_t[t].addmm_(h_prev, W_hh_t)
            ifo_t[t].sigmoid_()
            g_t[t].tanh_()
            for k, value in fill:
                blocks[t, :, k].fill_(value)
            torch.mul(f_t[t], c_prev, out=c_t[t])
            c_t[t].addcmul_(i_t[t], g_t[t])
            torch.tanh(c_t[t], out=tc_t[t])
            torch.mul(o_t[t], tc_t[t], out=h_t[t])
            h_prev, c_prev = h_t[t], c_t[t]
        ctx.fixed = fixed
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(xs, h0, c0, W_ih, W_hh, hs, cs, tanh_cs, gates)
        ctx.mark_non_differentiable(gates)
        return hs, cs, gates, hs[T - 1].clone(), cs[T - 1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dhs, dcs, _dgates, dh_T, dc_T):
        xs, h0, c0, W_ih, W_hh, hs, cs, tanh_cs, gates = ctx.saved_tensors
        T, B, D = xs.shape
        H = W_hh.shape[1]
        i, f, o, g = (gates[..., k * H:(k + 1) * H] for k in range(4))
        # With dc_t the total gradient of c_t, the chain rule through the step gives
        #   da_i = dc_t * g * i'   da_f = dc_t * c_{t-1} * f'   da_g = dc_t * i * g'
        #   da_o = dh_t * tanh(c_t) * o'   and dc_t = dc_{t+1} * f_{t+1} + dh_t * o * tanh'(c_t),
        # with sigma' = s (1 - s) and tanh' = 1 - t^2 read from the saved activations.
        # Only dh_t and dc_t depend on the incoming gradient: every other factor is computed
        # here for all steps, one pass each, into dA (T, B, 4, H), blocks i, f, g, o as in the
        # parameters; the loop then multiplies them in place by [dc_t, dc_t, dc_t, dh_t].
        # _sigmoid_grad(u, s) = u * s * (1 - s) and _tanh_grad(u, t) = u * (1 - t^2).
        dA = xs.new_empty(T, B, 4, H)          # first the factors, then dL/da_t
        _sigmoid_grad(g, i, out=dA[:, :, 0])
        _sigmoid_grad(c0, f[0], out=dA[0, :, 1])
        _sigmoid_grad(cs[:T - 1], f[1:], out=dA[1:, :, 1])
        _tanh_grad(i, g, out=dA[:, :, 2])
        _sigmoid_grad(tanh_cs, o, out=dA[:, :, 3])
        dc_from_dh = _tanh_grad(o, tanh_cs).unsqueeze(2)     # (T, B, 1, H)
        for k, _ in ctx.fixed:                 # a constant gate has derivative 0
            dA[:, :, k].zero_()
        if dhs is None:
            dhs = torch.zeros_like(hs)
        # V = [dc, dc, dc, dh] (B, 4, H): dc three times, so that one multiply gives all of dA[t]
        V = xs.new_zeros(B, 4, H)
        dc3, dh1, dh = V[:, :3], V[:, 3:], V[:, 3]
        if dc_T is not None:
            dc3.copy_(dc_T.unsqueeze(1))
        if dh_T is None:
            dh.copy_(dhs[T - 1])
        else:
            torch.add(dhs[T - 1], dh_T, out=dh)
        # a loss on the cell states themselves (gate_trace is not differentiable, but a caller
        # of the Function may use cs)
        dcs_t = None if dcs is None else dcs.unsqueeze(2).unbind(0)
        dA_t, dA_flat = dA.unbind(0), dA.view(T, B, 4 * H).unbind(0)
        f_t, dcdh_t = f.unsqueeze(2).unbind(0), dc_from_dh.unbind(0)
        for t in range(T - 1, -1, -1):
            if dcs_t is not None:
                dc3.add_(dcs_t[t])
            dc3.addcmul_(dh1, dcdh_t[t])       # dc_t += dh_t * o * tanh'(c_t)
            dA_t[t].mul_(V)                    # dL/da_t
            dc3.mul_(f_t[t])                   # now dL/dc_{t-1} through the cell path
            # dL/dh_{t-1} = (its own output gradient) + da_t W_hh
            if t > 0:
                torch.addmm(dhs[t - 1], dA_flat[t], W_hh, out=dh)
            else:
                torch.mm(dA_flat[0], W_hh, out=dh)
        dA = dA.view(T, B, 4 * H)
        need = ctx.needs_input_grad
        return (_input_grad(need[0], dA, xs, W_ih), dh.clone(), V[:, 0].clone(),
                *_param_grads(need[3:7], xs, dA, dA, h0, hs), None)


# --------------------------------------------------------------------------- the GRU
class _GRULayer(torch.autograd.Function):
    """One layer, one direction of the GRU over a whole sequence (PyTorch's torch.nn.GRU).

        r = sigma(x W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
        z = sigma(x W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    forward(xs (T, B, D), h0 (B, H), W_ih (3H, D), W_hh (3H, H), b_ih, b_hh (3H,),
            fixed: tuple of (gate index, value)) -> hs (T, B, H), gates (T, B, 3H) (r, z, n after
            their nonlinearities; not differentiable), h_T (B, H).
    """

    @staticmethod
    def forward(ctx, xs, h0, W_ih, W_hh, b_ih, b_hh, fixed):
        T, B, D = xs.shape
        H = W_hh.shape[1]
        # b_hh stays with the recurrent part: its n block b_hn sits inside r * (...).
        gates = torch.addmm(b_ih, xs.reshape(T * B, D), W_ih.t()).view(T, B, 3 * H)
        hh = xs.new_empty(T, B, 3 * H)         # h_{t-1} W_hh^T + b_hh; its n block is kept
        hs = xs.new_empty(T, B, H)
        b_hh_row = b_hh.unsqueeze(0).expand(B, 3 * H)
        rz_t, n_t = gates[..., :2 * H].unbind(0), gates[..., 2 * H:].unbind(0)
        r_t, z_t = gates[..., :H].unbind(0), gates[..., H:2 * H].unbind(0)
        hh_t, hh_rz_t, hh_n_t = hh.unbind(0), hh[..., :2 * H].unbind(0), hh[..., 2 * H:].unbind(0)
        blocks = gates.view(T, B, 3, H)
        h_t = hs.unbind(0)
        W_hh_t = W_hh.t()
        h_prev = h0
        for t in range(T):
            torch.addmm(b_hh_row, h_prev, W_hh_t, out=hh_t[t])
            rz_t[t].add_(hh_rz_t[t]).sigmoid_()
            for k, value in fixed:
                if k < 2:
                    blocks[t, :, k].fill_(value)
            n_t[t].addcmul_(r_t[t], hh_n_t[t]).tanh_()
            for k, value in fixed:
                if k == 2:
                    blocks[t, :, k].fill_(value)
            # h_t = n + z * (h_{t-1} - n) = (1 - z) * n + z * h_{t-1}
            torch.lerp(n_t[t], h_prev, z_t[t], out=h_t[t])
            h_prev = h_t[t]
        ctx.fixed = fixed
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(xs, h0, W_ih, W_hh, hs, gates, hh)
        ctx.mark_non_differentiable(gates)
        return hs, gates, hs[T - 1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dhs, _dgates, dh_T):
        xs, h0, W_ih, W_hh, hs, gates, hh = ctx.saved_tensors
        T, B, D = xs.shape
        H = W_hh.shape[1]
        r, z, n = (gates[..., k * H:(k + 1) * H] for k in range(3))
        hh_n = hh[..., 2 * H:]
        d_act = [r * (1 - r), z * (1 - z), 1 - n * n]
        for k, _ in ctx.fixed:
            d_act[k] = torch.zeros_like(r)
        h_prev = torch.cat((h0.unsqueeze(0), hs[:T - 1]))
        # With dh_t the total gradient of h_t, every pre-activation gradient is dh_t times a
        # factor that does not depend on the incoming gradient:
        #   da_n   = dh_t * (1 - z) * n'                      (input part of n)
        #   da_hn  = da_n * r                                  (h W_hn^T + b_hn)
        #   da_r   = da_n * (h W_hn^T + b_hn) * r'
        #   da_z   = dh_t * (h_{t-1} - n) * z'
        #   dh_{t-1} = dh_t * z + [da_r, da_z, da_hn] W_hh (+ its own output gradient)
        n_factor = (1 - z) * d_act[2]
        from_dh = xs.new_empty(T, B, 3, H)
        torch.mul(n_factor * hh_n, d_act[0], out=from_dh[:, :, 0])
        torch.mul(h_prev - n, d_act[1], out=from_dh[:, :, 1])
        torch.mul(n_factor, r, out=from_dh[:, :, 2])
        dA_h = xs.new_empty(T, B, 3 * H)       # dL/d(h_{t-1} W_hh^T + b_hh)
        dA_h_blocks = dA_h.view(T, B, 3, H)
        dh_all = xs.new_empty(T, B, H)         # dL/dh_t, total, kept for the n block of dA_x
        dh_all_t = dh_all.unbind(0)
        if dhs is None:
            dhs = torch.zeros_like(hs)
        if dh_T is None:
            dh_all_t[T - 1].copy_(dhs[T - 1])
        else:
            torch.add(dhs[T - 1], dh_T, out=dh_all_t[T - 1])
        z_t = z.unbind(0)
        for t in range(T - 1, -1, -1):
            dh = dh_all_t[t]
            torch.mul(dh.unsqueeze(1), from_dh[t], out=dA_h_blocks[t])
            if t > 0:
                torch.addmm(torch.addcmul(dhs[t - 1], dh, z_t[t]), dA_h[t], W_hh,
                            out=dh_all_t[t - 1])
            else:
                dh0 = torch.addmm(dh * z_t[0], dA_h[0], W_hh)
        dA_x = dA_h.clone()                    # dL/d(x W_ih^T + b_ih): r, z blocks are shared
        torch.mul(dh_all, n_factor, out=dA_x[..., 2 * H:])
        need = ctx.needs_input_grad
        return (_input_grad(need[0], dA_x, xs, W_ih), dh0,
                *_param_grads(need[2:6], xs, dA_x, dA_h, h0, hs), None)


# --------------------------------------------------------------------------- plain autograd
def _rnn_layer_autograd(xs, h0, W_ih, W_hh, b_ih, b_hh, relu):
    """The same RNN layer, step by step, differentiated by autograd. Returns hs, h_T."""
    phi = torch.relu if relu else torch.tanh
    A = (xs @ W_ih.t() + b_ih).unbind(0)       # the input projection, one multiply
    h, hs = h0, []
    for a in A:
        h = phi(a + h @ W_hh.t() + b_hh)
        hs.append(h)
    return torch.stack(hs), h


def _lstm_layer_autograd(xs, h0, c0, W_ih, W_hh, b_ih, b_hh, fixed):
    """The same LSTM layer, step by step, differentiated by autograd.

    Returns hs, cs, gates (T, B, 4H), h_T, c_T.
    """
    const = dict(fixed)
    A = (xs @ W_ih.t() + b_ih).unbind(0)
    h, c, hs, cs, gates = h0, c0, [], [], []
    for a_x in A:
        a_i, a_f, a_g, a_o = (a_x + h @ W_hh.t() + b_hh).chunk(4, dim=1)
        act = [torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)]
        act = [torch.full_like(a, const[k]) if k in const else a for k, a in enumerate(act)]
        i, f, g, o = act
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
        gates.append(torch.cat(act, dim=1).detach())
    return torch.stack(hs), torch.stack(cs), torch.stack(gates), h, c


def _gru_layer_autograd(xs, h0, W_ih, W_hh, b_ih, b_hh, fixed):
    """The same GRU layer, step by step, differentiated by autograd. Returns hs, gates, h_T."""
    const = dict(fixed)

    def gate(k, a):
        return torch.full_like(a, const[k]) if k in const else a

    A = (xs @ W_ih.t() + b_ih).unbind(0)
    h, hs, gates = h0, [], []
    for a_x in A:
        x_r, x_z, x_n = a_x.chunk(3, dim=1)
        h_r, h_z, h_n = (h @ W_hh.t() + b_hh).chunk(3, dim=1)
        r = gate(0, torch.sigmoid(x_r + h_r))
        z = gate(1, torch.sigmoid(x_z + h_z))
        n = gate(2, torch.tanh(x_n + r * h_n))
        h = (1 - z) * n + z * h
        hs.append(h)
        gates.append(torch.cat((r, z, n), dim=1).detach())
    return torch.stack(hs), torch.stack(gates), h


# --------------------------------------------------------------------------- the modules
class _Recurrent(nn.Module):
    """What RNN, LSTM and GRU share: parameters, initialisation, shapes, layers, directions."""

    _gate_names = ("h",)
    _has_cell = False
    # True: the step-by-step autograd version (slower; supports double backward).
    use_autograd = False

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, fixed_gates=None):
        super().__init__()
        name = type(self).__name__
        for arg, value, low in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                                ("num_layers", num_layers, 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name}: {arg}={value!r}, expected a positive integer")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout={dropout!r}, expected a number in [0, 1]")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        G, H = len(self._gate_names), self.hidden_size
        factory = {"device": device, "dtype": dtype}
        num_directions = 2 if self.bidirectional else 1
        # Registration order = torch.nn's, so reset_parameters draws the same numbers from the
        # same seed as torch.nn does.
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else H * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                self.register_parameter("weight_ih" + suffix,
                                        nn.Parameter(torch.empty(G * H, layer_input, **factory)))
                self.register_parameter("weight_hh" + suffix,
                                        nn.Parameter(torch.empty(G * H, H, **factory)))
                if self.bias:
                    self.register_parameter("bias_ih" + suffix,
                                            nn.Parameter(torch.empty(G * H, **factory)))
                    self.register_parameter("bias_hh" + suffix,
                                            nn.Parameter(torch.empty(G * H, **factory)))
        self.fixed_gates = fixed_gates
        self.reset_parameters()

    # ---- fixed gates
    @property
    def fixed_gates(self):
        """{gate name: constant} forced in every forward pass ({} for none); see the class doc."""
        return dict(self._fixed_gates)

    @fixed_gates.setter
    def fixed_gates(self, gates):
        name = type(self).__name__
        gates = {} if gates is None else gates
        if not isinstance(gates, dict):
            raise ValueError(f"{name}: fixed_gates={gates!r}, expected a dict such as "
                             f"{{{self._gate_names[-1]!r}: 1.0}} or None")
        if gates and self._gate_names == ("h",):
            raise ValueError(f"{name}: fixed_gates={gates!r}, but the simple RNN has no gates")
        checked = {}
        for gate, value in gates.items():
            if gate not in self._gate_names:
                raise ValueError(f"{name}: fixed_gates has key {gate!r}, expected one of "
                                 f"{self._gate_names}")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise ValueError(f"{name}: fixed_gates[{gate!r}]={value!r}, expected a finite "
                                 f"number")
            checked[gate] = float(value)
        self._fixed_gates = checked

    def _fixed_tuple(self):
        return tuple(sorted((self._gate_names.index(k), v) for k, v in self._fixed_gates.items()))

    # ---- torch.nn compatibility
    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """No-op, for code written for torch.nn (there is no cuDNN weight buffer here)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self._fixed_gates:
            s += f", fixed_gates={self._fixed_gates}"
        return s

    def _layer_params(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        W_ih = getattr(self, "weight_ih" + suffix)
        W_hh = getattr(self, "weight_hh" + suffix)
        if self.bias:
            return W_ih, W_hh, getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix)
        zeros = W_hh.new_zeros(W_hh.shape[0])
        return W_ih, W_hh, zeros, zeros

    # ---- shapes
    def _check_input(self, input, hx):
        """Validate shapes; return the input time-major (T, B, D), the states, and whether the
        input was unbatched (2-D)."""
        name = type(self).__name__
        if isinstance(input, nn.utils.rnn.PackedSequence):
            raise ValueError(f"{name}: PackedSequence input is not supported; pad the batch "
                             f"and pass a (T, B, {self.input_size}) tensor")
        if not isinstance(input, torch.Tensor):
            raise ValueError(f"{name}: input must be a torch.Tensor, got {type(input).__name__}")
        layout = "(B, T, D)" if self.batch_first else "(T, B, D)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has shape {tuple(input.shape)}, expected {layout} "
                             f"or unbatched (T, D) with D = input_size = {self.input_size}")
        if input.shape[0] == 0 or (input.dim() == 3 and input.shape[1] == 0):
            raise ValueError(f"{name}: input has shape {tuple(input.shape)}; the sequence "
                             f"length and batch size must be at least 1")
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise ValueError(f"{name}: input has dtype {input.dtype} but the parameters are "
                             f"{weight.dtype}; convert one of them (e.g. module.double())")
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        B = input.shape[1]
        L = self.num_layers * (2 if self.bidirectional else 1)
        expected = (L, self.hidden_size) if unbatched else (L, B, self.hidden_size)
        states = []
        names = ("h_0", "c_0") if self._has_cell else ("h_0",)
        if hx is not None:
            if self._has_cell:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                     f"{type(hx).__name__}")
                given = list(hx)
            else:
                given = [hx]
            for state_name, state in zip(names, given):
                if not isinstance(state, torch.Tensor) or tuple(state.shape) != expected:
                    seen = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state)
                    raise ValueError(f"{name}: {state_name} has shape {seen}, expected "
                                     f"{expected} (num_layers * num_directions, "
                                     f"{'' if unbatched else 'B, '}H)")
                if state.dtype != weight.dtype:
                    raise ValueError(f"{name}: {state_name} has dtype {state.dtype}, expected "
                                     f"{weight.dtype} like the parameters")
                states.append(state.unsqueeze(1) if unbatched else state)
        else:
            zeros = input.new_zeros(L, B, self.hidden_size)
            states = [zeros] * len(names)
        return input, states, unbatched

    def _output(self, out, unbatched):
        if unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    def _state(self, state, unbatched):
        return state.squeeze(1) if unbatched else state

    # ---- the stack of layers and directions
    def _run(self, input, states):
        """Run all layers and directions. input (T, B, D) time-major; states: list of
        (L*dirs, B, H) tensors. Returns output (T, B, dirs*H), final states (list like
        `states`) and, for every (layer, direction), a pair (function building its gate trace,
        whether it ran reversed), so that a plain forward pass builds no trace."""
        num_directions = 2 if self.bidirectional else 1
        fixed = self._fixed_tuple()
        layer_input = input
        finals = [[] for _ in states]
        traces = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                # The reverse direction reads the sequence backwards: run it on the flipped
                # input and flip its outputs back into time order.
                xs = layer_input.flip(0) if direction else layer_input
                result = self._layer(xs.contiguous(), [s[k] for s in states],
                                     self._layer_params(layer, direction), fixed)
                hs, per_step, final = result
                if direction:
                    hs = hs.flip(0)
                outputs.append(hs)
                # per_step() builds the gate trace; only gate_trace calls it
                traces.append((per_step, direction))
                for f, s in zip(finals, final):
                    f.append(s)
            layer_input = outputs[0] if num_directions == 1 else torch.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, p=self.dropout, training=True)
        # one layer and direction (the common case): a view, cheaper than stacking one tensor
        return (layer_input, [f[0].unsqueeze(0) if len(f) == 1 else torch.stack(f) for f in finals],
                traces)

    def forward(self, input, hx=None):
        """See the class docstring. input (T, B, D), (B, T, D) if batch_first, or (T, D)."""
        xs, states, unbatched = self._check_input(input, hx)
        out, finals, _ = self._run(xs, states)
        finals = [self._state(s, unbatched) for s in finals]
        out = self._output(out, unbatched)
        if self._has_cell:
            return out, (finals[0], finals[1])
        return out, finals[0]

    @torch.no_grad()
    def gate_trace(self, input, hx=None, layer=-1, direction=0):
        """The gate activations of one forward pass, without gradients.

        input, hx: as for forward. layer: which layer (default the last, whose hidden states
        are the output); direction: 0, or 1 for the reverse direction of a bidirectional module.
        Returns a dict of tensors, each (T, B, H) ((B, T, H) if batch_first, (T, H) for an
        unbatched input), in time order: the gates after their nonlinearities (a fixed gate
        shows its constant) and the states, "h" (and "c" for the LSTM).
        """
        num_directions = 2 if self.bidirectional else 1
        if not -self.num_layers <= layer < self.num_layers:
            raise ValueError(f"{type(self).__name__}.gate_trace: layer={layer}, expected an "
                             f"index into {self.num_layers} layer(s)")
        if direction not in range(num_directions):
            raise ValueError(f"{type(self).__name__}.gate_trace: direction={direction}, "
                             f"expected 0{' or 1' if self.bidirectional else ''}")
        xs, states, unbatched = self._check_input(input, hx)
        _, _, traces = self._run(xs, states)
        per_step, flipped = traces[(layer % self.num_layers) * num_directions + direction]
        trace = per_step()
        if flipped:
            trace = {key: v.flip(0) for key, v in trace.items()}
        return {key: self._output(v, unbatched) for key, v in trace.items()}


class RNN(_Recurrent):
    r"""The Elman RNN, h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), phi = tanh or relu.

    Same arguments as torch.nn.RNN: RNN(input_size, hidden_size, num_layers=1,
    nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    device=None, dtype=None).

    Parameters (per layer k, "_reverse" for the second direction): weight_ih_lk (H, D or
    num_directions*H), weight_hh_lk (H, H), bias_ih_lk (H,), bias_hh_lk (H,); all initialised
    U(-1/sqrt(H), 1/sqrt(H)).

    forward(input, h_0=None): input (T, B, D) ((B, T, D) if batch_first, or unbatched (T, D));
    h_0 (num_layers*num_directions, B, H), zeros if None. Returns output (T, B,
    num_directions*H), the last layer's h_t for every t, and h_n (num_layers*num_directions,
    B, H), every layer's last state.

    gate_trace(input, hx=None): the simple RNN has no gates, so only {"h": hs (T, B, H)}.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity={nonlinearity!r}, expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

    def _layer(self, xs, states, params, fixed):
        relu = self.nonlinearity == "relu"
        if self.use_autograd:
            hs, h_T = _rnn_layer_autograd(xs, states[0], *params, relu)
        else:
            hs, h_T = _RNNLayer.apply(xs, states[0], *params, relu)
        return hs, lambda: {"h": hs.detach()}, [h_T]


class LSTM(_Recurrent):
    r"""The LSTM (Hochreiter & Schmidhuber 1997, with a forget gate, Gers et al. 2000), as
    torch.nn.LSTM computes it. For each step t, with gate blocks stacked i, f, g, o:

        i = sigma(x_t W_ii^T + b_ii + h_{t-1} W_hi^T + b_hi)     input gate
        f = sigma(x_t W_if^T + b_if + h_{t-1} W_hf^T + b_hf)     forget gate
        g = tanh (x_t W_ig^T + b_ig + h_{t-1} W_hg^T + b_hg)     candidate cell values
        o = sigma(x_t W_io^T + b_io + h_{t-1} W_ho^T + b_ho)     output gate
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Same arguments as torch.nn.LSTM (proj_size must be 0), plus fixed_gates:
    LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, device=None, dtype=None, fixed_gates=None).

    Parameters (per layer k): weight_ih_lk (4H, D) = [W_ii; W_if; W_ig; W_io], weight_hh_lk
    (4H, H), bias_ih_lk (4H,), bias_hh_lk (4H,); all initialised U(-1/sqrt(H), 1/sqrt(H)).

    forward(input, (h_0, c_0)=None): input (T, B, D) ((B, T, D) if batch_first, or (T, D));
    h_0, c_0 (num_layers*num_directions, B, H), zeros if None. Returns output (T, B,
    num_directions*H) and (h_n, c_n), each (num_layers*num_directions, B, H).

    fixed_gates: {gate: constant} with gates among "i", "f", "g", "o", e.g. {"f": 1.0} (never
    forget) or {"o": 1.0} (no output gate). The gate is replaced by the constant after its
    nonlinearity in every step of every layer; its weights then get zero gradient. Settable
    later: `m.fixed_gates = {"o": 1.0}`; `m.fixed_gates = None` restores the LSTM.

    gate_trace(input, hx=None): dict "i", "f", "g", "o", "c", "h" of (T, B, H) tensors.
    """

    _gate_names = _LSTM_GATES
    _has_cell = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 fixed_gates=None):
        if proj_size:
            raise ValueError(f"LSTM: proj_size={proj_size!r}; LSTMs with projections are not "
                             f"implemented here, expected 0")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, fixed_gates)

    def _layer(self, xs, states, params, fixed):
        h0, c0 = states
        if self.use_autograd:
            hs, cs, gates, h_T, c_T = _lstm_layer_autograd(xs, h0, c0, *params, fixed)
            position = range(4)                # gates in the order i, f, g, o
        else:
            hs, cs, gates, h_T, c_T = _LSTMLayer.apply(xs, h0, c0, *params, fixed)
            position = _IFOG_POS               # gates in the order i, f, o, g
        H = self.hidden_size

        def trace():
            out = {k: gates[..., position[j] * H:(position[j] + 1) * H]
                   for j, k in enumerate(_LSTM_GATES)}
            out.update(c=cs.detach(), h=hs.detach())
            return out
        return hs, trace, [h_T, c_T]


class GRU(_Recurrent):
    r"""The GRU (Cho et al. 2014), as torch.nn.GRU computes it. For each step t, with gate
    blocks stacked r, z, n:

        r = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)       reset gate
        z = sigma(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)       update gate
        n = tanh (x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))  candidate state
        h_t = (1 - z) * n + z * h_{t-1}

    (PyTorch's convention: r multiplies h_{t-1} W_hn^T + b_hn, where Cho et al. apply r to
    h_{t-1} before the matrix; chapter 5.)

    Same arguments as torch.nn.GRU, plus fixed_gates: GRU(input_size, hidden_size,
    num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, device=None,
    dtype=None, fixed_gates=None).

    Parameters (per layer k): weight_ih_lk (3H, D) = [W_ir; W_iz; W_in], weight_hh_lk (3H, H),
    bias_ih_lk (3H,), bias_hh_lk (3H,); all initialised U(-1/sqrt(H), 1/sqrt(H)).

    forward(input, h_0=None): as torch.nn.GRU; returns output (T, B, num_directions*H) and h_n
    (num_layers*num_directions, B, H).

    fixed_gates: {gate: constant} with gates among "r", "z", "n", e.g. {"z": 0.0} (always take
    the candidate: no leaky integration) or {"r": 1.0} (no reset). Settable as an attribute.

    gate_trace(input, hx=None): dict "r", "z", "n", "h" of (T, B, H) tensors.
    """

    _gate_names = _GRU_GATES

    def _layer(self, xs, states, params, fixed):
        if self.use_autograd:
            hs, gates, h_T = _gru_layer_autograd(xs, states[0], *params, fixed)
        else:
            hs, gates, h_T = _GRULayer.apply(xs, states[0], *params, fixed)
        H = self.hidden_size

        def trace():
            out = {k: gates[..., j * H:(j + 1) * H] for j, k in enumerate(_GRU_GATES)}
            out["h"] = hs.detach()
            return out
        return hs, trace, [h_T]


def set_forget_bias(module, value):
    """Set an LSTM's forget-gate bias: the f block of every bias_ih to `value`, of bias_hh to 0.

    torch adds the two biases, so the forget gate's total bias b_if + b_hf becomes `value`
    (e.g. 1.0, Gers et al. 2000; Jozefowicz et al. 2015). Works on grnn_ref.modules.LSTM and
    torch.nn.LSTM (every layer and direction), in place, without recording gradients.
    Returns the module.
    """
    is_lstm = isinstance(module, (LSTM, nn.LSTM))
    if not is_lstm:
        raise ValueError(f"set_forget_bias: module is a {type(module).__name__}, expected "
                         f"grnn_ref.modules.LSTM or torch.nn.LSTM")
    if not getattr(module, "bias", True):
        raise ValueError("set_forget_bias: the LSTM was built with bias=False and has no bias")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"set_forget_bias: value={value!r}, expected a number")
    H = module.hidden_size
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.startswith("bias_ih_l"):
                param[H:2 * H] = value
            elif name.startswith("bias_hh_l"):
                param[H:2 * H] = 0.0
    return module
