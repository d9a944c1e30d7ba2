"""Experiments that measure the theory of chapters 3-7 and reproduce the classic long-lag results.

Importing this package does not import torch (nor matplotlib); the torch parts load on use.

Run an experiment by name (tables as row dicts, figures as matplotlib Figures):

    from grnn_ref.experiments import run, EXPERIMENTS
    res = run("bound", size="book")        # sizes: "quick" (seconds), "book" (< 90 s), "full"
    res.rows, res.table(), res.figures["bound"], res.save("results/bound")

or from a shell (full size, progress bars, saves into results/<name>/):

    python -m grnn_ref.experiments --help
    python -m grnn_ref.experiments adding [--size full|book|quick] [--quick] [--out DIR]

Experiments (EXPERIMENTS): bound, gradient_flow, adding, copy, lstm_t100, clipping, gates, charlm,
revival, revival_charlm.

Book presets (size="book"; CPU seconds measured on one core of the course machine, seed 0):
    chapter 3  run("bound") ~6 s; run("gradient_flow") ~4 s; run("clipping") ~12 s;
               run("adding", cells=("rnn",)) ~12 s (the tanh RNN stays at MSE 1/6, T = 50)
    chapter 4  run("adding", cells=("lstm",)) ~17 s (LSTM, forget bias 1, lr 1e-2, T = 50)
    chapter 5  run("adding", cells=("gru",)) ~28 s (GRU, lr 3e-3, T = 50)
    chapter 6  run("adding") ~60 s (all three); run("copy") (T = 20, 1000 steps)
    chapter 7  run("gates") ~50 s (trains an LSTM and a GRU at T = 50, then looks inside)
    chapter 8  loads the committed checkpoint and results of run("charlm", "full") (~40 min,
               1 torch thread): grnn_ref/data/charlm_lstm.pt, charlm_results.json
    chapter 9  reads the committed results of run("revival", "full") (26 min wall, 1 torch thread):
               grnn_ref/data/revival_results.json and revival_*.md, and of
               run("revival_charlm", "full") (minimal cells on chapter 8's character model,
               2 processes): grnn_ref/data/revival_charlm.json
A chapter that needs the same trained models twice should keep the ExperimentResult and reuse
`res.data["results"]` (TrainResults) instead of training again, e.g.
gates_experiment("book", trained={"lstm": ..., "gru": ...}).

The stable API, module by module (names used by the book and the exercises):

grnn_ref.tasks (numpy)
    adding_problem(n, T, *, seed=None, rng=None, variant="arjovsky") -> xs (T, n, 2), ys (n, 1)
    copy_task(n, T, *, seed=None, rng=None, n_symbols=8, n_copy=10, one_hot_inputs=False)
        -> inputs (T + 2 n_copy, n) ids [or (..., n, n_symbols + 2) one-hot], targets (T + 2 n_copy, n)
    ADDING_BASELINE_MSE = 1/6, HOCHREITER_BASELINE_MSE = 19/480, copy_baseline_ce(T, n_copy, n_symbols)
jacobians (numpy, exact, from the reference's step functions)
    scaled_orthogonal(H, sigma, seed) -> (H, H); spectral_norm(A); spectral_radius(A)
    step_jacobian(kind, x, h_prev, p, c_prev=None) -> (H, H) or LSTM joint (2H, 2H)
    jacobian_products(kind, p, xs, h0=None, c0=None, *, path="h"|"c"|"joint"|"cell")
        -> norms (T + 1,) or (T + 1, B) with norms[k] = ||d s_k / d s_0||_2
    measured_log_slope(norms, k_min=1, k_max=None); pascanu_bound(W_hh, ks, gamma=1.0)
    bound_experiment(sigmas=(0.5, 0.9, 1.0, 1.5, 3.0), *, H, T, ...) -> rows
    general_matrix_experiment(gains, ...) -> rows; cell_path_products(gate) -> (T + 1, ...)
gradient_flow (numpy)
    backprop_norms(kind, p, xs) -> {"dh", "dc", "path", "gates"}
    gradient_flow(kind, *, T, H, B, seeds, forget_bias=None) -> {"t", "lag", "ratio", "path", ...}
    gradient_flow_experiment(size) -> {"rows", "curves"}; effective_time_constant(f) = 1/(1 - f)
training (torch)
    train(cell, task, T, *, steps, hidden=64, batch=64, lr=1e-3, clip=1.0, forget_bias=None,
          seed=0, eval_every=None, n_test=1000, optimizer="adam", w_hh_sigma=None,
          fixed_gates=None, num_threads=1, progress=None) -> TrainResult
        (.curve [(step, loss)], .test_curve, .test_loss, .baseline, .diverged, .wall_time,
         .grad_norms, .state_dict, .model(), .params() -> grnn_ref.Params)
clipping
    clip_grad_norm_(params, threshold) -> norm before clipping (Pascanu et al. 2013, Alg. 1)
exploding (torch)
    exploding_experiment(size, ...) -> {"rows", "results": {"no clip", "clip"}}
long_lag: adding_experiment(size, cells=None, T=None, steps=None), copy_experiment(...),
    lstm_t100_experiment(size), PAPER_RESULTS
gates: gate_trace(result_or_params, xs), marker_gate_stats(trace, xs), time_constants(trace),
    ablate_post_hoc(result, {"f": 1.0}), gates_experiment(size)
charlm (torch): Vocab, load_text(), split(ids) (90/10), unigram_entropy, CharLM(cell, V, H, E),
    count_params, hidden_for_params, train(cell, ...) -> CharLMResult, evaluate(model, ids),
    sample(model, vocab, n, temperature=, seed=), save_checkpoint, load_checkpoint(),
    cell_activations, line_features, find_units, activation_html, charlm_experiment(size)
report: format_table, ResultTable, save_table, save_figure, plot_bound, plot_bound_slopes,
    plot_gradient_flow, plot_learning_curves, plot_clipping, plot_gate_trace, plot_time_constants,
    plot_charlm_curves
"""
import importlib

__all__ = ["run", "EXPERIMENTS", "SIZES", "experiment_names"]

SIZES = ("quick", "book", "full")

_SUBMODULES = {"jacobians", "gradient_flow", "training", "clipping", "exploding", "gates",
               "report", "long_lag", "runner", "charlm", "revival"}


def experiment_names():
    """The names accepted by `run` and by `python -m grnn_ref.experiments`."""
    from grnn_ref.experiments.runner import EXPERIMENTS as E
    return tuple(E)


def run(name, size="book", **kwargs):
    """Run a named experiment; see `grnn_ref.experiments.runner.run`."""
    from grnn_ref.experiments.runner import run as _run
    return _run(name, size, **kwargs)


def __getattr__(name):
    if name == "EXPERIMENTS":
        from grnn_ref.experiments.runner import EXPERIMENTS as E
        return {k: v[1] for k, v in E.items()}
    if name in _SUBMODULES:
        return importlib.import_module(f"grnn_ref.experiments.{name}")
    raise AttributeError(f"module 'grnn_ref.experiments' has no attribute {name!r}")
