"""minGRU and minLSTM as torch modules (chapter 9), checked against the numpy reference
`grnn_ref.mingru` (tests/test_mingru.py).

    layer = MinGRU(input_size, hidden_size, mode="scan")     # or mode="sequential"
    hs, h_T = layer(xs, h0=None)         # xs (T, B, D) time-major -> hs (T, B, H), h_T (B, H)

Both modes compute the same function and give the same gradients (autograd differentiates
through either); they differ only in how the linear recurrence h_t = a_t * h_{t-1} + b_t is
solved: "sequential" runs T small steps, "scan" runs ceil(log2 T) doubling rounds over the whole
sequence (grnn_ref.mingru.linear_scan's "doubling" method, in torch). The gates are one Linear
layer, `self.linear` with weight (G*H, D) and bias (G*H,), blocks z, n (minGRU) or f, i, n
(minLSTM): the same layout as grnn_ref.mingru's W and bias.
"""
import torch
from torch import nn

__all__ = ["MinGRU", "MinLSTM", "scan_linear", "sequential_linear", "MODES"]

MODES = ("scan", "sequential")


def sequential_linear(a, b, h0):
    """h_t = a_t h_{t-1} + b_t, one step at a time: a, b (T, ...), h0 (...) -> hs (T, ...).

    The steps are taken with unbind, not a[t]: autograd's backward of each a[t] would write its
    gradient into a fresh zero tensor of a's full size, T times (O(T^2) work; measured 1.35 s
    instead of ~0.1 s per step at T = 1024)."""
    h, out = h0, []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


def scan_linear(a, b, h0):
    """The same states by recursive doubling: ceil(log2 T) rounds, each one vectorised over the
    whole sequence (out of place, so that autograd can differentiate it)."""
    A, B = a, b
    T, d = a.shape[0], 1
    while d < T:
        B = torch.cat([B[:d], A[d:] * B[:-d] + B[d:]])
        A = torch.cat([A[:d], A[d:] * A[:-d]])
        d *= 2
    return A * h0 + B


class _MinCell(nn.Module):
    gates = ()

    def __init__(self, input_size, hidden_size, mode="scan", device=None, dtype=None):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, "
                                 f"got {value!r}")
        if mode not in MODES:
            raise ValueError(f"{type(self).__name__}: mode must be one of {MODES}, got {mode!r}")
        self.input_size, self.hidden_size, self.mode = input_size, hidden_size, mode
        self.linear = nn.Linear(input_size, len(self.gates) * hidden_size, device=device,
                                dtype=dtype)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, mode={self.mode!r}"

    def forward(self, xs, h0=None):
        if xs.dim() != 3 or xs.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input has shape {tuple(xs.shape)}, expected "
                             f"(T, B, input_size={self.input_size}) (time-major)")
        T, B, _ = xs.shape
        H = self.hidden_size
        if h0 is None:
            h0 = xs.new_zeros(B, H)
        elif tuple(h0.shape) != (B, H):
            raise ValueError(f"{type(self).__name__}: h0 has shape {tuple(h0.shape)}, expected "
                             f"(B, H) = ({B}, {H})")
        a, b = self.coefficients(self.linear(xs))
        solve = scan_linear if self.mode == "scan" else sequential_linear
        hs = solve(a, b, h0)
        return hs, hs[-1]


class MinGRU(_MinCell):
    """minGRU (Feng et al. 2024) in the course's convention: z = sigmoid(W_z x + b_z),
    n = W_n x + b_n, h_t = z_t h_{t-1} + (1 - z_t) n_t."""
    gates = ("z", "n")

    def coefficients(self, k):
        H = self.hidden_size
        z = torch.sigmoid(k[..., :H])
        return z, (1 - z) * k[..., H:]


class MinLSTM(_MinCell):
    """minLSTM (Feng et al. 2024): f, i = sigmoid(W x + b), n = W_n x + b_n,
    h_t = f/(f+i) h_{t-1} + i/(f+i) n_t."""
    gates = ("f", "i", "n")

    def coefficients(self, k):
        H = self.hidden_size
        f, i = torch.sigmoid(k[..., :H]), torch.sigmoid(k[..., H:2 * H])
        s = f + i
        return f / s, i / s * k[..., 2 * H:]
