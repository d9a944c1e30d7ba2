"""grnn_ref: the reference implementation of the course "Gated Recurrent Networks, Demystified".

The numpy reference (time-major shapes, PyTorch's weight layout and gate order) is imported here
and never imports torch, so that a grading kernel starts fast. The torch parts
(`grnn_ref.modules`, the training experiments) load torch only when they are used.

    xs: (T, B, D)   h, c: (B, H)   hs, cs: (T, B, H)
    Params(W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,))
    G = 1 (RNN, tanh), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n)
"""
import importlib

from grnn_ref.params import Params, GATES, init_params
from grnn_ref.activations import sigmoid, dsigmoid_from_output, dtanh_from_output
from grnn_ref.rnn import rnn_step_forward, rnn_step_backward, rnn_forward, rnn_backward
from grnn_ref.lstm import lstm_step_forward, lstm_step_backward, lstm_forward, lstm_backward
from grnn_ref.gru import gru_step_forward, gru_step_backward, gru_forward, gru_backward

__version__ = "0.1.0"

# Submodules that are loaded on first attribute access (some of them import torch).
_LAZY_SUBMODULES = {"modules", "experiments", "tasks", "grading", "gradcheck", "bench"}


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"grnn_ref.{name}")
    raise AttributeError(f"module 'grnn_ref' has no attribute {name!r}")


__all__ = [
    "Params", "GATES", "init_params",
    "sigmoid", "dsigmoid_from_output", "dtanh_from_output",
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
]
