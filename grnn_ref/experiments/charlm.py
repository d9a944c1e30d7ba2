"""A character-level language model on tiny Shakespeare (chapter 8).

    text = load_text(); vocab = Vocab.from_text(text)
    train_ids, val_ids = split(vocab.encode(text))          # first 90% / last 10%, like nanoGPT
    result = train("lstm", hidden=256, steps=1500)           # a CharLMResult
    result.val_loss, result.curve, result.samples, result.model()
    model, meta = load_checkpoint()                          # the committed trained LSTM
    sample(model, vocab, 300, temperature=0.8, seed=0)

The model (`CharLM`): an embedding of each character (a learned row per character: the same as
multiplying its one-hot vector by a matrix), one recurrent layer (torch.nn.RNN with tanh, LSTM or
GRU, time-major), and a linear head giving 65 logits per step. The loss is softmax cross-entropy
in nats per character, averaged over every position of every sequence (`torch.nn.functional.
cross_entropy`, which computes log-softmax with the log-sum-exp trick).

Training is stateful truncated backpropagation through time (Williams & Peng 1990; char-rnn): the
training text is cut into `batch` contiguous streams, each stream is read `bptt` characters at a
time, and the hidden state at the end of one chunk is the initial state of the next chunk of the
same stream, detached, so that the gradient is truncated at `bptt` steps while the state (the
model's memory of the text) is not.

Data: `grnn_ref/data/tinyshakespeare.txt` (1,115,394 characters, 65 distinct), Karpathy's char-rnn
file data/tinyshakespeare/input.txt byte for byte (see grnn_ref/data/README.md); split 90/10.

Determinism: torch's init from torch.manual_seed(seed), the stream offsets from numpy generators
seeded from `seed`, sampling from a torch.Generator seeded explicitly. With `num_threads` fixed,
the same call gives the same numbers on the same machine.
"""
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "TEXT_PATH", "CHECKPOINT_PATH", "Vocab", "load_text", "split",
           "unigram_entropy", "CharLM", "count_params", "hidden_for_params", "train",
           "CharLMResult", "evaluate", "sample", "save_checkpoint", "load_checkpoint",
           "cell_activations", "line_features", "find_units", "activation_html",
           "UNIFORM_BASELINE", "NANOGPT", "CHARLM_SIZES", "charlm_experiment", "CELLS"]

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
TEXT_PATH = DATA_DIR / "tinyshakespeare.txt"
CHECKPOINT_PATH = DATA_DIR / "charlm_lstm.pt"
TEXT_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

#: ln 65: the loss of a model that gives every one of the 65 characters the same probability.
UNIFORM_BASELINE = math.log(65)

#: Published reference points on the same text and split (nanoGPT's README, character level,
#: validation loss in nats per character).
NANOGPT = [
    {"model": "nanoGPT, 6-layer Transformer, 10.7M parameters, A100 GPU ~3 min",
     "val loss (nats/char)": 1.4697},
    {"model": "nanoGPT CPU recipe (4 layers, 128 channels, context 64, 2000 iterations, ~3 min)",
     "val loss (nats/char)": 1.88},
]


# --------------------------------------------------------------------------- data
def load_text(path=None):
    """The tiny Shakespeare text as one str (1,115,394 characters)."""
    with open(path or TEXT_PATH, encoding="utf-8") as f:
        return f.read()


@dataclass(frozen=True)
class Vocab:
    """The characters of the text, sorted: id i <-> chars[i]."""
    chars: str

    @classmethod
    def from_text(cls, text):
        return cls("".join(sorted(set(text))))

    def __len__(self):
        return len(self.chars)

    def encode(self, s):
        """str -> (len(s),) int64 ids."""
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.array([index[c] for c in s], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"Vocab.encode: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def split(ids, train_fraction=0.9):
    """(train, val): the first 90% and the last 10% of the ids, as nanoGPT's shakespeare_char."""
    n = int(train_fraction * len(ids))
    return ids[:n], ids[n:]


def unigram_entropy(ids, vocab_size=65, reference=None):
    """Cross-entropy in nats/char of the unigram model (character frequencies of `reference`,
    default `ids` itself) on `ids`: the best a model with no memory at all can do."""
    ref = ids if reference is None else reference
    p = np.bincount(ref, minlength=vocab_size) / len(ref)
    q = np.bincount(ids, minlength=vocab_size) / len(ids)
    mask = q > 0
    return float(-(q[mask] * np.log(np.maximum(p[mask], 1e-12))).sum())


# --------------------------------------------------------------------------- model
def _torch():
    import torch
    return torch


def _make_model_class():
    torch = _torch()
    from torch import nn

    class CharLM(nn.Module):
        """Embedding (V, E) -> one recurrent layer (E -> H) -> linear head (H -> V).

        forward(ids (T, B) int64, state=None) -> (logits (T, B, V), state); state is h (B, H)
        for the RNN and GRU, (h, c) for the LSTM, each with a leading layer axis as torch.nn.
        """

        def __init__(self, cell, vocab_size=65, hidden=256, embed=64, dropout=0.0, layers=1):
            super().__init__()
            if cell not in CELLS:
                raise ValueError(f"CharLM: cell must be one of {CELLS}, got {cell!r}")
            _check_layers("CharLM", layers)
            self.cell, self.vocab_size, self.hidden, self.embed_size = cell, vocab_size, hidden, embed
            self.layers = layers
            self.embed = nn.Embedding(vocab_size, embed)
            if cell in MIN_CELLS:
                self.rnn = _MinStack(cell, embed, hidden, layers)
            else:
                rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
                self.rnn = rnn(embed, hidden) if layers == 1 else rnn(embed, hidden, layers)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(hidden, vocab_size)

        def forward(self, ids, state=None):
            hs, state = self.rnn(self.embed(ids), state)
            return self.head(self.drop(hs)), state

        def hidden_states(self, ids, state=None):
            """(hs (T, B, H), final state): the recurrent layer's outputs, for inspection."""
            return self.rnn(self.embed(ids), state)

        @staticmethod
        def detach_state(state):
            if state is None:
                return None
            if isinstance(state, tuple):
                return tuple(s.detach() for s in state)
            return state.detach()

    class _MinStack(nn.Module):
        """`layers` minGRU or minLSTM layers (grnn_ref.min_modules, by their loop: the same
        function as the scan, faster on one CPU core), each reading the states of the one
        below. forward(xs (T, B, E), state (layers, B, H) or None) -> (hs (T, B, H), state):
        a minimal cell's state is h alone, laid out as torch.nn.GRU's."""

        def __init__(self, cell, embed, hidden, layers):
            super().__init__()
            from grnn_ref.min_modules import MinGRU, MinLSTM
            cls = MinGRU if cell == "mingru" else MinLSTM
            self.cells = nn.ModuleList([cls(embed if k == 0 else hidden, hidden,
                                            mode="sequential") for k in range(layers)])

        def forward(self, xs, state=None):
            finals = []
            for k, layer in enumerate(self.cells):
                xs, h_T = layer(xs, None if state is None else state[k])
                finals.append(h_T)
            return xs, torch.stack(finals)

    return CharLM


_CLASSES = {}

#: The cells CharLM accepts; the minimal cells (chapter 9) have no H x H matrix.
CELLS = ("rnn", "lstm", "gru", "mingru", "minlstm")
MIN_CELLS = ("mingru", "minlstm")
_GATES = {"rnn": 1, "lstm": 4, "gru": 3, "mingru": 2, "minlstm": 3}


def _check_layers(where, layers):
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise ValueError(f"{where}: layers must be a positive int, got {layers!r}")


def __getattr__(name):
    if name == "CharLM":
        if "CharLM" not in _CLASSES:
            _CLASSES["CharLM"] = _make_model_class()
        return _CLASSES["CharLM"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def count_params(cell, hidden, embed=64, vocab_size=65, layers=1):
    """Number of parameters of CharLM(cell, vocab_size, hidden, embed, layers=layers),
    computed by formula. A torch cell's layer has G*H*(D + H) weights and 2*G*H biases; a
    minimal cell's layer only G*H*D weights and G*H biases (its gates read x_t alone)."""
    if cell not in CELLS:
        raise ValueError(f"count_params: cell must be one of {CELLS}, got {cell!r}")
    _check_layers("count_params", layers)
    G = _GATES[cell]
    recurrent = 0
    for k in range(layers):
        D = embed if k == 0 else hidden
        if cell in MIN_CELLS:
            recurrent += G * hidden * D + G * hidden
        else:
            recurrent += G * hidden * (D + hidden) + 2 * G * hidden
    return vocab_size * embed + recurrent + hidden * vocab_size + vocab_size


def hidden_for_params(cell, n_params, embed=64, vocab_size=65, layers=1):
    """The H whose CharLM(cell) has the parameter count closest to n_params (equal-size
    comparisons: an RNN gets a larger H than a GRU, a GRU a larger H than an LSTM, and a
    single minimal layer, with no H x H matrix, a far larger one)."""
    return min(range(1, 8192), key=lambda H: abs(
        count_params(cell, H, embed, vocab_size, layers) - n_params))


# --------------------------------------------------------------------------- training
def _streams(ids, batch, bptt, offset=0):
    """The ids cut into `batch` contiguous streams, read `bptt` at a time: a list of
    (inputs (bptt, batch), targets (bptt, batch)) chunks, consecutive in each stream."""
    ids = ids[offset:]
    n = (len(ids) - 1) // batch
    bptt = min(bptt, n)
    x = ids[:n * batch].reshape(batch, n).T                 # (n, batch): column b is stream b
    y = ids[1:n * batch + 1].reshape(batch, n).T
    return [(x[t:t + bptt], y[t:t + bptt]) for t in range(0, n - bptt + 1, bptt)]


def evaluate(model, ids, *, batch=16, bptt=256, carry_state=True, per_position=False):
    """Validation loss in nats per character: `ids` read as `batch` streams, every predicted
    position counted once. Returns a float.

    carry_state: the state at the end of a chunk starts the next one (as in training); False
    restarts every chunk from a zero state, so a prediction sees at most `bptt` characters.
    per_position: return the (bptt,) mean loss at each position inside a chunk instead."""
    torch = _torch()
    F = torch.nn.functional
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    chunks = _streams(ids, batch, bptt)
    by_position = np.zeros(chunks[0][0].shape[0]) if chunks else np.zeros(0)
    with torch.no_grad():
        for x, y in chunks:
            logits, state = model(torch.as_tensor(x), state if carry_state else None)
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     torch.as_tensor(y).reshape(-1), reduction="none")
            total += float(losses.sum())
            count += y.size
            by_position += losses.reshape(y.shape).double().mean(1).numpy()
    model.train(was_training)
    if per_position:
        return by_position / max(len(chunks), 1)
    return total / count


@dataclass
class CharLMResult:
    """What `train` returns.

    curve: [(step, training loss)] (each a batch mean, nats/char); val_curve: [(step, val loss)];
    samples: [(step, text)] sampled at temperature 0.8 during training; val_loss: final;
    steps_done: updates made (fewer than config["steps"] when a time budget stopped the run);
    wall_time: seconds of the whole run (evaluations included); train_time: without them; state_dict: the trained weights.
    """
    cell: str
    config: dict
    curve: list = field(default_factory=list)
    val_curve: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    val_loss: float = float("nan")
    n_params: int = 0
    steps_done: int = 0
    best_step: int = 0
    wall_time: float = 0.0
    train_time: float = 0.0
    state_dict: dict = None

    def model(self):
        CharLM = __getattr__("CharLM")
        m = CharLM(self.cell, self.config["vocab_size"], self.config["hidden"], self.config["embed"],
                   dropout=self.config.get("dropout", 0.0), layers=self.config.get("layers", 1))
        m.load_state_dict(self.state_dict)
        m.eval()
        return m


def _want_progress(progress):
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


#: The steps after which `train` records a sample (and after the last one).
SAMPLE_STEPS = (1, 30, 100, 300, 1000, 3000, 10000)


def train(cell, *, hidden=256, embed=64, batch=32, bptt=128, steps=1500, lr=3e-3,
          final_lr_fraction=0.1, clip=1.0, dropout=0.0, time_budget=None, seed=0,
          eval_every=None, val_subset=None, keep_best=False, sample_every=None,
          sample_length=200, num_threads=1, progress=None, text=None, layers=1):
    """Train a CharLM on the training 90% of tiny Shakespeare with stateful truncated BPTT.

    cell: "rnn", "lstm", "gru", or the minimal cells of chapter 9, "mingru" and "minlstm"
    (state h alone, carried like the GRU's); layers: stacked recurrent layers. hidden: H; embed: embedding size E. batch: streams read in
    parallel; bptt: truncation length (characters per chunk). steps: Adam updates; lr: peak
    learning rate, decayed by a cosine to final_lr_fraction * lr at the last step (a fixed-budget
    run gains most from ending at a small rate). clip: gradient-norm clipping threshold.
    dropout: dropout rate on the recurrent layer's outputs before the head (0: none).
    time_budget: seconds; if given, training stops when that much training time (wall time of
        the updates; evaluations and samples excluded) has passed, or at `steps`, whichever comes
        first, and the cosine follows the larger of the fractions of
        steps and of time used, so a budgeted run ends at the small rate too. Not reproducible
        step for step (it depends on the machine's speed); without it, runs are.
    eval_every: validation period in steps (default steps // 10), on the first `val_subset`
    validation characters (None: all of them; the final loss always uses all of them).
    keep_best: keep the weights of the evaluation with the lowest validation loss, not the last
        ones (early stopping, as nanoGPT keeps its best checkpoint); val_loss and state_dict are
        then the best evaluation's, and best_step says when it was.
    sample_every: period of the samples recorded in `samples`, besides those at SAMPLE_STEPS
        and the last step.
    num_threads: torch threads (None leaves torch's setting alone). progress: tqdm bar on stderr.
    """
    torch = _torch()
    F = torch.nn.functional
    CharLM = __getattr__("CharLM")
    text = load_text() if text is None else text
    vocab = Vocab.from_text(text)
    train_ids, val_ids = split(vocab.encode(text))
    eval_every = eval_every or max(steps // 10, 1)
    config = dict(hidden=hidden, embed=embed, batch=batch, bptt=bptt, steps=steps, lr=lr,
                  final_lr_fraction=final_lr_fraction, clip=clip, seed=seed,
                  dropout=dropout, time_budget=time_budget, vocab_size=len(vocab),
                  num_threads=num_threads, val_subset=val_subset, keep_best=keep_best)
    if layers != 1:
        config["layers"] = layers        # (absent for one layer: chapter 8's records)
    result = CharLMResult(cell=cell, config=config,
                          n_params=count_params(cell, hidden, embed, len(vocab), layers))
    rng = np.random.default_rng([seed, 8])
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    t0 = time.perf_counter()
    bar = None
    try:
        torch.manual_seed(seed)
        model = CharLM(cell, len(vocab), hidden, embed, dropout=dropout, layers=layers)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        train_time = 0.0           # training wall time, evaluations and samples excluded
        val_eval = val_ids if val_subset is None else val_ids[:val_subset]
        if _want_progress(progress):
            from tqdm.auto import tqdm
            bar = tqdm(total=steps if time_budget is None else None, leave=False, file=sys.stderr,
                       desc=f"charlm {cell} H={hidden}" + (
                           f", {time_budget:.0f} s budget" if time_budget else ""))
        chunks, k, state = [], 0, None
        best = (0, float("inf"), None)        # (step, validation loss, weights) for keep_best
        for step in range(steps):
            if time_budget is not None and train_time >= time_budget:
                break
            used = step / steps if time_budget is None else max(step / steps, train_time / time_budget)
            for group in opt.param_groups:
                group["lr"] = lr * (final_lr_fraction + (1 - final_lr_fraction) * 0.5 * (
                    1 + math.cos(math.pi * min(used, 1.0))))
            t_step = time.perf_counter()
            if k == len(chunks):
                # a new pass over the training text, from a random offset so that chunk
                # boundaries move; the state starts again from zero
                chunks, k, state = _streams(train_ids, batch, bptt, int(rng.integers(bptt))), 0, None
            x, y = chunks[k]
            k += 1
            logits, state = model(torch.as_tensor(x), state)
            state = model.detach_state(state)       # truncated BPTT: keep the state, cut the graph
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), torch.as_tensor(y).reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            value = float(loss.detach())
            train_time += time.perf_counter() - t_step
            result.curve.append((step, value))
            done = step + 1
            result.steps_done = done
            if done % eval_every == 0 and done < steps:
                result.val_curve.append((done, evaluate(model, val_eval)))
                if keep_best and result.val_curve[-1][1] < best[1]:
                    best = (done, result.val_curve[-1][1], _copy_state(model))
            if done in SAMPLE_STEPS or (sample_every and done % sample_every == 0):
                result.samples.append((done, sample(model, vocab, sample_length, temperature=0.8,
                                                   seed=seed)))
            if bar is not None:
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{value:.3f}")
        done = result.steps_done
        if not any(s == done for s, _ in result.samples):
            result.samples.append((done, sample(model, vocab, sample_length, temperature=0.8,
                                                seed=seed)))
        result.val_loss = evaluate(model, val_ids)
        result.val_curve = [(s, v) for s, v in result.val_curve if s < done] + [(done, result.val_loss)]
        result.train_time = train_time
        result.best_step = done
        if keep_best and best[2] is not None:
            last = _copy_state(model)
            model.load_state_dict(best[2])
            best_loss = evaluate(model, val_ids)    # on the whole validation text
            if best_loss < result.val_loss:
                result.val_loss, result.best_step = best_loss, best[0]
            else:
                model.load_state_dict(last)
    finally:
        if bar is not None:
            bar.close()
        torch.set_num_threads(old_threads)
    result.wall_time = time.perf_counter() - t0
    result.state_dict = _copy_state(model)
    return result


def _copy_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- sampling
def sample(model, vocab, length, *, temperature=1.0, prime="\n", seed=0):
    """Generate `length` characters after `prime`.

    Each next character is drawn from softmax(logits / temperature); temperature 0 (or below
    1e-8) takes the most likely character (greedy decoding), the limit of temperature -> 0.
    The draws come from a torch.Generator seeded with `seed`. Returns the generated str (without
    the prime)."""
    torch = _torch()
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        ids = torch.as_tensor(vocab.encode(prime)).reshape(-1, 1)
        logits, state = model(ids)
        last = logits[-1, 0]
        for _ in range(length):
            if temperature < 1e-8:
                nxt = int(torch.argmax(last))
            else:
                probs = torch.softmax(last.double() / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]]), state)
            last = logits[-1, 0]
    model.train(was_training)
    return vocab.decode(out)


# --------------------------------------------------------------------------- checkpoint
def save_checkpoint(result, path=CHECKPOINT_PATH, extra=None):
    """Save a trained CharLM's weights (float32) and its record (config, losses, command) to
    `path` (.pt) and the record alone to path with suffix .json. Returns the record."""
    torch = _torch()
    record = {"cell": result.cell, "config": result.config, "n_params": result.n_params,
              "val_loss": result.val_loss, "best_step": result.best_step, "wall_time_s": round(result.wall_time, 1),
              "val_curve": result.val_curve, **(extra or {})}
    # float16 on disk (half the size); load_checkpoint returns float32 weights. The losses of
    # the weights as stored are recorded by charlm_experiment after reloading them.
    torch.save({"state_dict": {k: v.half() for k, v in result.state_dict.items()},
                "record": record}, path)
    with open(Path(path).with_suffix(".json"), "w") as f:
        json.dump(record, f, indent=1)
    return record


def load_checkpoint(path=CHECKPOINT_PATH):
    """(model in eval mode, record) from a checkpoint written by save_checkpoint."""
    torch = _torch()
    CharLM = __getattr__("CharLM")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    rec = blob["record"]
    cfg = rec["config"]
    model = CharLM(rec["cell"], cfg["vocab_size"], cfg["hidden"], cfg["embed"],
                   layers=cfg.get("layers", 1))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    model.eval()
    return model, rec


# --------------------------------------------------------------------------- interpretable cells
def cell_activations(model, text, vocab, what=None):
    """Run the model over `text` (one stream from a zero state) and return a (len(text), H)
    float64 array: the LSTM's cell state passed through tanh (what the output gate reads,
    in [-1, 1]) or the hidden state h of the RNN/GRU (what=\"h\" forces h for the LSTM)."""
    torch = _torch()
    ids = torch.as_tensor(vocab.encode(text)).reshape(-1, 1)
    with torch.no_grad():
        x = model.embed(ids)
        if model.cell == "lstm" and what != "h":
            # torch.nn.LSTM returns only the last c: step through to record every c_t
            state, cs = None, []
            for t in range(x.shape[0]):
                _, state = model.rnn(x[t:t + 1], state)
                cs.append(state[1][0, 0])
            return torch.tanh(torch.stack(cs)).double().numpy()
        hs, _ = model.rnn(x)
        return hs[:, 0].double().numpy()


def line_features(text):
    """Per-character features of the text's layout: {name: (len(text),) float array}.

    "position in line": characters since the last newline; "speaker name": 1 on the lines that
    name the speaker (a line ending with ':' such as 'ROMEO:'), else 0; "inside a word": 1 on
    letters, 0 on spaces, punctuation and newlines; "upper case": 1 on capitals."""
    feats = {"position in line": [], "speaker name": [], "inside a word": [], "upper case": []}
    for line in text.split("\n"):
        words = line[:-1].split()
        # 'ROMEO:', 'First Citizen:', 'KING RICHARD III:': a short line of capitalised words
        # ending with a colon
        name = float(line.endswith(":") and 0 < len(words) <= 4
                     and all(w[:1].isupper() for w in words))
        for pos, c in enumerate(line + "\n"):
            feats["position in line"].append(float(pos))
            feats["speaker name"].append(name)
            feats["inside a word"].append(1.0 if c.isalpha() else 0.0)
            feats["upper case"].append(1.0 if c.isupper() else 0.0)
    n = len(text)
    return {k: np.array(v[:n]) for k, v in feats.items()}


def find_units(acts, features):
    """For each feature, the unit whose activation correlates most (in absolute value) with it.
    acts: (N, H); features: {name: (N,)}. Returns {name: (unit, correlation)}."""
    a = (acts - acts.mean(0)) / (acts.std(0) + 1e-12)
    out = {}
    for name, f in features.items():
        f = (f - f.mean()) / (f.std() + 1e-12)
        corr = a.T @ f / len(f)
        u = int(np.argmax(np.abs(corr)))
        out[name] = (u, float(corr[u]))
    return out


def _contrast_with_black(rgb):
    """WCAG contrast ratio of black text on the colour ``rgb`` (0-255 channels)."""
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    luminance = sum(w * linear(c) for w, c in zip((0.2126, 0.7152, 0.0722), rgb))
    return (luminance + 0.05) / 0.05


def activation_html(text, values, title=None):
    """The text as HTML, each character on a background coloured by its value in [-1, 1]:
    blue for negative, red for positive, white near 0 (as Karpathy, Johnson & Fei-Fei 2015).

    Like the plots, it is drawn on white in either colour theme; each character is black or
    white, whichever contrasts more with its background (dark text on saturated blue is
    unreadable)."""
    import html
    parts = []
    if title:
        parts.append(f'<div class="charlm-title"><b>{html.escape(title)}</b></div>')
    parts.append('<pre class="charlm-cells" style="line-height:1.35;font-size:0.85em;'
                 'white-space:pre-wrap;padding:0.4em;border:1px solid #ddd;'
                 'background:#fff;color:#000">')
    for c, v in zip(text, np.clip(values, -1, 1)):
        if v >= 0:
            rgb = (255, int(255 * (1 - v)), int(255 * (1 - v)))
        else:
            rgb = (int(255 * (1 + v)), int(255 * (1 + v)), 255)
        shown = "\u21b5\n" if c == "\n" else html.escape(c)
        ink = "" if _contrast_with_black(rgb) >= 4.5 else ";color:#fff"
        parts.append(f'<span style="background:rgb{rgb}{ink}" title="{v:+.2f}">{shown}</span>')
    parts.append("</pre>")
    return "".join(parts)


# --------------------------------------------------------------------------- the experiment
#: Sizes of `charlm_experiment` (and `python -m grnn_ref.experiments charlm --size ...`).
#: compare: RNN, LSTM and GRU at the parameter count of an LSTM with H = `lstm_hidden`, the same
#: steps each; budget: one LSTM trained for `time_budget` seconds of training time; long: the
#: long LSTM run whose weights become the checkpoint (None: none).
CHARLM_SIZES = {
    "quick": dict(compare=dict(lstm_hidden=32, embed=16, batch=8, bptt=32, steps=60),
                  budget=dict(hidden=32, embed=16, batch=8, bptt=32, time_budget=1.0),
                  long=None, val_subset=4096),
    "book": dict(compare=dict(lstm_hidden=64, embed=32, batch=16, bptt=64, steps=250),
                 budget=None, long=None, val_subset=20000),
    "full": dict(compare=dict(lstm_hidden=256, embed=64, batch=32, bptt=64, steps=3000),
                 budget=dict(hidden=256, embed=64, batch=32, bptt=64, time_budget=180.0),
                 long=dict(hidden=512, embed=64, batch=32, bptt=64, steps=5000, lr=2e-3,
                           dropout=0.25, keep_best=True, eval_every=500, val_subset=None),
                 val_subset=20000),
}

NOTES = (
    "Loss: softmax cross-entropy in nats per character on the validation text (the last 10% of "
    "tiny Shakespeare, 111,540 characters, read as 16 stateful streams); bits/char = nats / ln 2; "
    "perplexity = exp(nats). Baselines: uniform ln 65 = 4.174; unigram (training-set character "
    "frequencies) = entropy of a memoryless model. Anchors (nanoGPT README, same split): "
    "1.4697 for a 10.7M-parameter Transformer (~3 min on an A100 GPU), ~1.88 for its CPU recipe. "
    "Every run: Adam, cosine decay of the learning rate to a tenth, gradient-norm clipping at 1, "
    "stateful truncated BPTT, 1 torch thread on a 2-core CPU shared with other work (wall times "
    "depend on its load).")


def _curve_points(curve, n=200):
    """A training curve averaged over windows, at most n points: [(step, mean loss)]."""
    if not curve:
        return []
    steps, loss = np.array(curve, dtype=np.float64).T
    w = max(1, len(loss) // n)
    m = len(loss) // w * w
    return list(zip(steps[w - 1:m:w].astype(int).tolist(),
                    loss[:m].reshape(-1, w).mean(1).tolist()))


def _record(r, label):
    return {"label": label, "cell": r.cell, "config": r.config, "n_params": r.n_params,
            "steps_done": r.steps_done, "val_loss": r.val_loss, "val_curve": r.val_curve,
            "train_curve": _curve_points(r.curve), "samples": r.samples,
            "wall_time_s": round(r.wall_time, 1), "train_time_s": round(r.train_time, 1)}


def charlm_experiment(size="full", *, seed=0, progress=None, out=None,
                      cells=("rnn", "lstm", "gru"), parts=("compare", "budget", "long"),
                      num_threads=1):
    """Train RNN, LSTM and GRU language models at equal parameter count on the same split; at
    "full" size also the 3-minute LSTM and the long LSTM run, whose weights are saved as
    `out`/charlm_lstm.pt (the committed checkpoint is a copy of it, grnn_ref/data/).
    Writes `out`/charlm_results.json (curves, samples, table) when `out` is given.

    Returns {"rows", "anchors", "sample_rows", "curves": {label: record}, "baselines",
    "results": {label: CharLMResult}, "config"}."""
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in CHARLM_SIZES[size].items()}
    text = load_text()
    vocab = Vocab.from_text(text)
    train_ids, val_ids = split(vocab.encode(text))
    baselines = {"uniform ln 65": UNIFORM_BASELINE,
                 "unigram": unigram_entropy(val_ids, len(vocab), train_ids)}
    common = dict(seed=seed, val_subset=cfg["val_subset"], num_threads=num_threads,
                  progress=progress, text=text)
    cmp = dict(cfg["compare"])
    budget_params = count_params("lstm", cmp.pop("lstm_hidden"), cmp["embed"])
    results = {}
    for cell in (cells if "compare" in parts else ()):
        H = hidden_for_params(cell, budget_params, cmp["embed"])
        results[cell.upper()] = train(cell, hidden=H, **cmp, **common)
    if cfg["budget"] and "budget" in parts:
        b = cfg["budget"]
        results[f"LSTM, {b['time_budget']:.0f} s budget"] = train(
            "lstm", steps=10 ** 7, **b, **common)
    if cfg["long"] and "long" in parts:
        long_kw = dict(cfg["long"])
        long_common = dict(common, val_subset=long_kw.pop("val_subset", cfg["val_subset"]))
        results["LSTM, long run"] = train("lstm", **long_kw, **long_common)
    rows = [_row(r, label, baselines) for label, r in results.items()]
    anchors = [{"model": f"{label}: {r.cell.upper()} H={r.config['hidden']}, "
                         f"{r.n_params:,} parameters, 2-core CPU",
                "val loss (nats/char)": r.val_loss, "training time (s)": round(r.train_time)}
               for label, r in results.items() if "budget" in label or "long" in label]
    anchors += NANOGPT
    curves = {label: _record(r, label) for label, r in results.items()}
    sample_rows = [{"run": label, "step": step, "sample (temperature 0.8)": s}
                   for label, r in results.items() for step, s in r.samples]
    config = dict(cfg, seed=seed, num_threads=num_threads, params=budget_params)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        if "LSTM, long run" in results:
            path = os.path.join(out, "charlm_lstm.pt")
            long = results["LSTM, long run"]
            save_checkpoint(long, path)
            # the losses of the weights as stored (float16), for the test that reloads them
            model, _ = load_checkpoint(path)
            save_checkpoint(long, path, extra={
                "subset": SUBSET, "subset_val_loss": subset_loss(model, val_ids),
                "val_loss_as_stored": evaluate(model, val_ids),
                "command": f"python -m grnn_ref.experiments charlm --size {size} --seed {seed}"})
        with open(os.path.join(out, "charlm_results.json"), "w") as f:
            json.dump({"rows": rows, "anchors": anchors, "baselines": baselines,
                       "curves": curves, "config": config}, f, indent=1)
    return {"rows": rows, "anchors": anchors, "sample_rows": sample_rows, "curves": curves,
            "baselines": baselines, "results": results, "config": config}


#: The fixed validation subset on which the checkpoint records its loss (for a fast test).
SUBSET = dict(start=0, length=16384, batch=4, bptt=256)


def subset_loss(model, val_ids=None):
    """The loss on the fixed validation subset SUBSET (16,384 characters, 4 streams)."""
    if val_ids is None:
        text = load_text()
        val_ids = split(Vocab.from_text(text).encode(text))[1]
    s = SUBSET
    return evaluate(model, val_ids[s["start"]:s["start"] + s["length"]], batch=s["batch"],
                    bptt=s["bptt"])


def _row(r, label, baselines):
    return {"run": label, "H": r.config["hidden"], "parameters": r.n_params,
            "steps": r.steps_done,
            "characters seen": r.steps_done * r.config["batch"] * r.config["bptt"],
            "val loss (nats/char)": r.val_loss,
            "weights of step": r.best_step if r.config.get("keep_best") else r.steps_done,
            "bits/char": r.val_loss / math.log(2),
            "perplexity": math.exp(r.val_loss),
            "below unigram by": baselines["unigram"] - r.val_loss,
            "training time (s)": round(r.train_time, 1), "wall time (s)": round(r.wall_time, 1)}
