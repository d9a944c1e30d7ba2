"""Gradient-norm clipping, the remedy for exploding gradients (chapter 3).

`clip_grad_norm_` is Algorithm 1 of Pascanu, Mikolov and Bengio (2013), "On the difficulty of
training recurrent neural networks":

    g <- dE/dtheta                      (all parameters' gradients, seen as one vector)
    if ||g|| >= threshold:  g <- (threshold / ||g||) g

The direction of the step is kept; only its length is capped. `grnn_ref.experiments.training`
applies it at every step; `grnn_ref.experiments.exploding` shows what it does to a tanh RNN whose
gradients explode.
"""
import math

__all__ = ["clip_grad_norm_", "grad_norm"]


def _grads(params):
    if hasattr(params, "grad") and not isinstance(params, (list, tuple)):
        params = [params]
    return [p.grad for p in params if p.grad is not None]


def grad_norm(params):
    """The L2 norm of all gradients concatenated into one vector, as a python float.

    params: an iterable of torch tensors with .grad (e.g. model.parameters()).
    """
    import torch

    grads = _grads(list(params))
    if not grads:
        return 0.0
    return float(torch.sqrt(sum((g.detach().double() ** 2).sum() for g in grads)))


def clip_grad_norm_(params, threshold):
    """Rescale the gradients in place so that their joint L2 norm is at most `threshold`.

    Pascanu et al. (2013), Algorithm 1: if ||g|| >= threshold then g <- threshold / ||g|| * g.
    ||g|| is the Euclidean norm of all the gradients stacked into one vector (not per tensor).

    params: an iterable of torch tensors (their .grad is modified in place; None grads are skipped).
    threshold: a positive float.
    Returns the norm before clipping (a python float), like torch.nn.utils.clip_grad_norm_.
    Differs from torch's version only by torch's 1e-6 added to the norm in the divisor.
    A non-finite norm is returned as is and leaves the gradients untouched (the caller decides).
    """
    if not (isinstance(threshold, (int, float)) and threshold > 0 and math.isfinite(threshold)):
        raise ValueError(f"clip_grad_norm_: threshold must be a positive finite number, "
                         f"got {threshold!r}")
    params = list(params) if not hasattr(params, "grad") else [params]
    norm = grad_norm(params)
    if math.isfinite(norm) and norm >= threshold:
        scale = threshold / norm
        for g in _grads(params):
            g.mul_(scale)
    return norm
