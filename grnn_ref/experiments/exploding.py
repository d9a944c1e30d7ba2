"""The exploding-gradient experiment of chapter 3: a tanh RNN trained without and with clipping.

`exploding_experiment` trains a tanh RNN whose W_hh starts with a large sigma_max on the adding
problem, once without and once with Pascanu et al.'s gradient-norm clipping
(`grnn_ref.experiments.clipping.clip_grad_norm_`), with the harness of
`grnn_ref.experiments.training` (torch).
"""
__all__ = ["exploding_experiment", "EXPLODING_SIZES", "DEFAULT_EXPLODING"]

# The tanh RNN on the adding problem, W_hh = 3 x (random orthogonal) so sigma_max = 3, plain SGD
# with lr 0.1. Measured: the gradient norm at the first step is ~1e3 (T = 20); without clipping
# the loss then grows by ~20x per step and reaches inf within ~30 steps; with clipping at 1 the
# same run trains (seed 0: test MSE 0.24 after 600 steps at H = 32).
DEFAULT_EXPLODING = dict(w_hh_sigma=3.0, lr=0.1, optimizer="sgd")

EXPLODING_SIZES = {
    "quick": dict(T=20, steps=40, hidden=32, batch=32),
    "book": dict(T=20, steps=600, hidden=32, batch=32),
    "full": dict(T=20, steps=3000, hidden=64, batch=64),
}


def exploding_experiment(size="book", *, sigma=None, lr=None, threshold=1.0, optimizer=None,
                         seed=0, progress=None):
    """Train the tanh RNN on the adding problem from a W_hh with large sigma_max, without and with
    Pascanu's clipping. Returns {"rows": [...], "results": {"no clip": TrainResult, "clip": ...}}.
    """
    from grnn_ref.experiments.training import train

    cfg = dict(EXPLODING_SIZES[size])
    cfg.update(DEFAULT_EXPLODING)
    if sigma is not None:
        cfg["w_hh_sigma"] = sigma
    if lr is not None:
        cfg["lr"] = lr
    if optimizer is not None:
        cfg["optimizer"] = optimizer
    results = {}
    for label, clip in (("no clip", None), ("clip", threshold)):
        # no early stop on a loss jump: let the unclipped run show its climb to inf / NaN
        results[label] = train("rnn", "adding", clip=clip, seed=seed, progress=progress,
                               divergence_factor=float("inf"), **cfg)
    rows = []
    for label, r in results.items():
        rows.append({
            "run": label, "sigma_max(W_hh) at init": cfg["w_hh_sigma"],
            "optimizer": cfg["optimizer"], "lr": cfg["lr"],
            "clip threshold": threshold if label == "clip" else None,
            "max grad norm": float(max(r.grad_norms)) if len(r.grad_norms) else float("nan"),
            "max train loss": r.max_train_loss, "final train loss": r.curve[-1][1],
            "final test MSE": r.test_loss,
            "diverged": r.diverged, "diverged at step": r.diverged_at,
        })
    return {"rows": rows, "results": results, "config": cfg}
