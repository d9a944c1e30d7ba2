"""The parameters of one recurrent cell, in PyTorch's layout and gate order.

A cell with G gate blocks (G = 1 for the tanh RNN, 4 for the LSTM, 3 for the GRU), input size D and
hidden size H has four arrays, exactly those of `torch.nn.RNN/LSTM/GRU` (single layer):

    W_ih (G*H, D)   input-to-hidden weights, the G blocks stacked by rows in the order of GATES[kind]
    W_hh (G*H, H)   hidden-to-hidden weights, same stacking
    b_ih (G*H,)     input bias
    b_hh (G*H,)     hidden bias (torch keeps two biases; only their sum matters, except for the
                    GRU's candidate block n, where b_hn sits inside r * (W_hn h + b_hn))

Rows k*H:(k+1)*H of each array belong to gate GATES[kind][k]; `Params.gate` slices them out.
Gradients are returned as a `Params` of the same shapes.

A step forward returns, besides its states, a cache: `RNNStepCache`, `LSTMStepCache` or
`GRUStepCache` below (the book's notation page documents them). A step backward computes its
gradients from the cache's fields alone.

torch is imported only inside `from_torch`, `to_torch_state_dict` and `load_into`.
"""
from typing import NamedTuple

import numpy as np

GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

_KIND_OF_NUM_GATES = {len(g): kind for kind, g in GATES.items()}
_FIELD_TO_TORCH = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


class Params(NamedTuple):
    """Weights and biases of one recurrent cell, PyTorch layout (see the module docstring).

    W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,); G = 1 (RNN), 4 (LSTM: i, f, g, o),
    3 (GRU: r, z, n).
    """

    W_ih: np.ndarray
    W_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray

    @property
    def input_size(self):
        """D, the number of input features."""
        return self.W_ih.shape[1]

    @property
    def hidden_size(self):
        """H, the size of the hidden state."""
        return self.W_hh.shape[1]

    @property
    def num_gates(self):
        """G, the number of stacked gate blocks (1, 4 or 3)."""
        return self.W_hh.shape[0] // self.W_hh.shape[1]

    @property
    def kind(self):
        """"rnn", "lstm" or "gru", read from the number of gate blocks."""
        try:
            return _KIND_OF_NUM_GATES[self.num_gates]
        except KeyError:
            raise ValueError(
                f"Params: W_hh has shape {self.W_hh.shape}, which is not G*H x H for G in 1, 3, 4"
            ) from None

    @property
    def dtype(self):
        """The numpy dtype of the weights (all four arrays share it)."""
        return self.W_ih.dtype

    def gate(self, name, which="W_ih"):
        """One gate's block of one array, a view: e.g. p.gate("f", "W_hh") is the LSTM's W_hf (H, H).

        name: a gate of GATES[p.kind] ("h" for the RNN). which: "W_ih", "W_hh", "b_ih" or "b_hh".
        Returns (H, D), (H, H) or (H,).
        """
        gates = GATES[self.kind]
        if name not in gates:
            raise ValueError(f"Params.gate: gate {name!r} is not one of {gates} for a {self.kind}")
        if which not in self._fields:
            raise ValueError(f"Params.gate: which={which!r}, expected one of {self._fields}")
        k, H = gates.index(name), self.hidden_size
        return getattr(self, which)[k * H:(k + 1) * H]

    def astype(self, dtype):
        """A copy of the parameters converted to `dtype`."""
        return Params(*(np.array(a, dtype=dtype) for a in self))

    def copy(self):
        """A deep copy (new arrays)."""
        return Params(*(np.array(a, copy=True) for a in self))

    # ------------------------------------------------------------------ torch interop
    @classmethod
    def from_torch(cls, module, dtype=np.float64):
        """Copy the weights of a torch recurrent module into a new Params.

        module: torch.nn.RNN (tanh), LSTM or GRU with one layer, one direction and no projection;
        torch.nn.RNNCell (tanh), LSTMCell or GRUCell; or any module with the same state_dict keys
        (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, or weight_ih, ... for cells).
        A module built with bias=False gives zero biases.
        dtype: numpy dtype of the result (float64 by default); None keeps the module's dtype.
        """
        if getattr(module, "nonlinearity", "tanh") != "tanh":
            raise ValueError(
                f"Params.from_torch: the module has nonlinearity={module.nonlinearity!r}; "
                f"the reference implements the tanh RNN only")
        if getattr(module, "num_layers", 1) != 1:
            raise ValueError(
                f"Params.from_torch: the module has num_layers={module.num_layers}; "
                f"expected a single layer (use one Params per layer)")
        if getattr(module, "bidirectional", False):
            raise ValueError("Params.from_torch: the module is bidirectional; expected one direction")
        if getattr(module, "proj_size", 0):
            raise ValueError(
                f"Params.from_torch: the module has proj_size={module.proj_size}; "
                f"LSTMs with projections are not supported")
        state = module.state_dict()
        suffix = "_l0" if "weight_ih_l0" in state else ""
        if "weight_ih" + suffix not in state or "weight_hh" + suffix not in state:
            raise ValueError(
                f"Params.from_torch: the module's state_dict has keys {sorted(state)}, expected "
                f"weight_ih_l0/weight_hh_l0[/bias_ih_l0/bias_hh_l0] or weight_ih/weight_hh[/...]")
        extra = [k for k in state if k.endswith("_reverse") or "_l1" in k or "weight_hr" in k]
        if extra:
            raise ValueError(
                f"Params.from_torch: the module's state_dict has keys {extra}; expected a single "
                f"layer in one direction, without projection")
        W_ih_t = state["weight_ih" + suffix]
        if dtype is None:
            dtype = W_ih_t.detach().cpu().numpy().dtype

        def grab(key, like=None):
            if key in state:
                return np.array(state[key].detach().cpu().numpy(), dtype=dtype, copy=True)
            return np.zeros(like, dtype=dtype)

        W_ih = grab("weight_ih" + suffix)
        W_hh = grab("weight_hh" + suffix)
        b_ih = grab("bias_ih" + suffix, like=W_ih.shape[0])
        b_hh = grab("bias_hh" + suffix, like=W_hh.shape[0])
        p = cls(W_ih, W_hh, b_ih, b_hh)
        if W_hh.ndim != 2 or W_hh.shape[0] % W_hh.shape[1] or p.num_gates not in _KIND_OF_NUM_GATES:
            raise ValueError(
                f"Params.from_torch: weight_hh has shape {tuple(W_hh.shape)}, expected (G*H, H) "
                f"with G in 1, 3, 4")
        return p

    def to_torch_state_dict(self, cell=False):
        """The parameters as a dict of new torch tensors (same dtype) with torch.nn's keys.

        cell=False: keys of torch.nn.RNN/LSTM/GRU (weight_ih_l0, weight_hh_l0, bias_ih_l0,
        bias_hh_l0); cell=True: keys of torch.nn.RNNCell/LSTMCell/GRUCell (weight_ih, ...).
        """
        import torch

        suffix = "" if cell else "_l0"
        return {_FIELD_TO_TORCH[f] + suffix: torch.tensor(np.array(a, copy=True))
                for f, a in zip(self._fields, self)}

    def load_into(self, module):
        """Copy these parameters into a torch module in place (under torch.no_grad); returns it.

        Accepts the modules `from_torch` accepts. The module's dtype is kept (values are cast).
        A bias=False module only accepts zero biases.
        """
        import torch

        state = module.state_dict()
        suffix = "_l0" if "weight_ih_l0" in state else ""
        params = dict(module.named_parameters())
        with torch.no_grad():
            for f, a in zip(self._fields, self):
                key = _FIELD_TO_TORCH[f] + suffix
                if key not in params:
                    if f.startswith("b") and not np.any(a):
                        continue
                    raise ValueError(
                        f"Params.load_into: the module has no parameter {key!r} "
                        f"(its parameters are {sorted(params)})")
                target = params[key]
                if tuple(target.shape) != a.shape:
                    raise ValueError(
                        f"Params.load_into: {key} has shape {tuple(target.shape)} in the module, "
                        f"but p.{f} has shape {a.shape}")
                target.copy_(torch.as_tensor(np.asarray(a)))
        return module


class RNNStepCache(NamedTuple):
    """What a tanh RNN step forward keeps for its backward (the course's cache contract)."""
    x: np.ndarray        # (B, D)
    h_prev: np.ndarray   # (B, H)
    h_next: np.ndarray   # (B, H), tanh(a): its derivative is 1 - h_next**2
    p: Params


class LSTMStepCache(NamedTuple):
    """What an LSTM step forward keeps for its backward (the course's cache contract)."""
    x: np.ndarray        # (B, D)
    h_prev: np.ndarray   # (B, H)
    c_prev: np.ndarray   # (B, H)
    i: np.ndarray        # (B, H) input gate
    f: np.ndarray        # (B, H) forget gate
    g: np.ndarray        # (B, H) candidate cell values
    o: np.ndarray        # (B, H) output gate
    tanh_c: np.ndarray   # (B, H) tanh(c_next)
    p: Params


class GRUStepCache(NamedTuple):
    """What a GRU step forward keeps for its backward (the course's cache contract)."""
    x: np.ndarray        # (B, D)
    h_prev: np.ndarray   # (B, H)
    r: np.ndarray        # (B, H) reset gate
    z: np.ndarray        # (B, H) update gate
    n: np.ndarray        # (B, H) candidate state
    hn: np.ndarray       # (B, H) h_prev W_hn^T + b_hn, the term the reset gate scales
    p: Params


#: The step cache of each cell. A sequence forward's cache is the list of its step caches.
STEP_CACHES = {"rnn": RNNStepCache, "lstm": LSTMStepCache, "gru": GRUStepCache}


def init_params(kind, input_size, hidden_size, *, seed=None, rng=None, dtype=np.float64,
                forget_bias=None):
    """Random parameters for a `kind` cell, initialised as torch.nn does.

    Every weight and bias is drawn from U(-k, k) with k = 1/sqrt(hidden_size), like
    torch.nn.RNN/LSTM/GRU's reset_parameters (the draws themselves differ from torch's RNG).

    kind: "rnn", "lstm" or "gru". input_size D, hidden_size H.
    seed: int for a fresh np.random.default_rng(seed); or rng: a np.random.Generator (not both).
    dtype: np.float64 (default) or np.float32.
    forget_bias (LSTM only): if given, b_ih's f block is set to forget_bias and b_hh's f block to 0,
        so the forget gate's total bias b_if + b_hf (torch adds both biases) equals forget_bias;
        e.g. 1.0 as recommended by Jozefowicz et al. (2015).
    Returns Params with W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,).
    """
    if kind not in GATES:
        raise ValueError(f"init_params: kind={kind!r}, expected one of {tuple(GATES)}")
    for name, n in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"init_params: {name}={n!r}, expected a positive integer")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"init_params: dtype={dtype!r}, expected np.float32 or np.float64")
    if seed is not None and rng is not None:
        raise ValueError("init_params: give seed or rng, not both")
    if forget_bias is not None and kind != "lstm":
        raise ValueError(f"init_params: forget_bias is for the LSTM only, got kind={kind!r}")
    if rng is None:
        rng = np.random.default_rng(seed)
    G, D, H = len(GATES[kind]), int(input_size), int(hidden_size)
    k = 1.0 / np.sqrt(H)
    shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    p = Params(*(rng.uniform(-k, k, size=s).astype(dtype) for s in shapes))
    if forget_bias is not None:
        p.gate("f", "b_ih")[:] = forget_bias
        p.gate("f", "b_hh")[:] = 0
    return p
