"""The character-level language model of chapter 8: data, model, stateful truncated BPTT,
sampling, and the claims the chapter makes about the committed checkpoint and results.

Everything here reads the committed checkpoint (grnn_ref/data/charlm_lstm.pt) and results
(grnn_ref/data/charlm_results.json, written by `python -m grnn_ref.experiments charlm`) or trains
for a few steps at tiny sizes: seconds in all.
"""
import hashlib
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from grnn_ref.experiments import charlm as C  # noqa: E402

RESULTS_PATH = C.DATA_DIR / "charlm_results.json"


@pytest.fixture(scope="module")
def data():
    text = C.load_text()
    vocab = C.Vocab.from_text(text)
    train_ids, val_ids = C.split(vocab.encode(text))
    return text, vocab, train_ids, val_ids


@pytest.fixture(scope="module")
def checkpoint():
    torch.set_num_threads(1)
    return C.load_checkpoint()


@pytest.fixture(scope="module")
def results():
    with open(RESULTS_PATH) as f:
        return json.load(f)


def test_the_text_is_tiny_shakespeare_byte_for_byte_split_90_10_like_nanogpt(data):
    text, vocab, train_ids, val_ids = data
    assert hashlib.sha256(C.TEXT_PATH.read_bytes()).hexdigest() == C.TEXT_SHA256
    assert len(text) == 1_115_394 and len(vocab) == 65
    # nanoGPT's shakespeare_char/prepare.py: train = data[:int(n * 0.9)]
    assert len(train_ids) == 1_003_854 and len(val_ids) == 111_540
    assert vocab.decode(vocab.encode(text[:500])) == text[:500]


def test_the_baselines_are_ln_65_and_the_unigram_entropy(data):
    _, _, train_ids, val_ids = data
    assert C.UNIFORM_BASELINE == pytest.approx(4.1744, abs=1e-4)
    h = C.unigram_entropy(val_ids, 65, train_ids)
    assert 3.2 < h < 3.4 < C.UNIFORM_BASELINE
    # a model with the exact unigram frequencies of the text scores its entropy on it
    p = np.bincount(train_ids, minlength=65) / len(train_ids)
    assert C.unigram_entropy(train_ids) == pytest.approx(-(p[p > 0] * np.log(p[p > 0])).sum())


def test_the_parameter_formula_counts_the_models_parameters_and_equal_budgets_match():
    for cell in ("rnn", "lstm", "gru"):
        m = C.CharLM(cell, 65, 37, 11)
        assert C.count_params(cell, 37, 11) == sum(p.numel() for p in m.parameters())
    budget = C.count_params("lstm", 256, 64)
    for cell in ("rnn", "gru"):
        H = C.hidden_for_params(cell, budget, 64)
        assert abs(C.count_params(cell, H, 64) - budget) / budget < 0.01


def test_stateful_batches_continue_each_stream_where_the_previous_chunk_ended():
    ids = np.arange(1000)
    chunks = C._streams(ids, batch=4, bptt=10)
    for (x0, y0), (x1, _) in zip(chunks, chunks[1:]):
        assert x0.shape == (10, 4)
        np.testing.assert_array_equal(y0, x0 + 1)            # targets: the next character
        np.testing.assert_array_equal(x1[0], y0[-1])          # the next chunk picks up there


def test_a_short_training_run_is_deterministic_and_learns_below_the_uniform_baseline(data):
    text = data[0][:60_000]
    kw = dict(hidden=16, embed=8, batch=8, bptt=16, steps=40, lr=1e-2, val_subset=2000,
              num_threads=1, progress=False, text=text, sample_length=20)
    a = C.train("gru", **kw)
    b = C.train("gru", **kw)
    assert a.val_loss == b.val_loss and a.samples == b.samples
    assert a.val_loss < C.UNIFORM_BASELINE
    assert a.curve[-1][1] < a.curve[0][1]


def test_the_checkpoint_reproduces_its_recorded_validation_loss(checkpoint, data):
    model, record = checkpoint
    loss = C.subset_loss(model, data[3])
    assert loss == pytest.approx(record["subset_val_loss"], abs=1e-4)


def test_the_trained_model_is_far_below_the_unigram_baseline(checkpoint, data):
    model, record = checkpoint
    _, _, train_ids, val_ids = data
    s = C.SUBSET
    subset = val_ids[s["start"]:s["start"] + s["length"]]
    unigram = C.unigram_entropy(subset, 65, train_ids)
    assert C.subset_loss(model, val_ids) < unigram - 1.5
    assert record["val_loss"] < C.unigram_entropy(val_ids, 65, train_ids) - 1.5


def test_sampling_at_temperature_towards_zero_is_greedy_decoding(checkpoint, data):
    model, _ = checkpoint
    vocab = data[1]
    # greedy decoding written out: always the most likely next character
    ids, state, greedy = torch.as_tensor(vocab.encode("\n")).reshape(-1, 1), None, []
    with torch.no_grad():
        for _ in range(120):
            logits, state = model(ids, state)
            ids = logits[-1:].argmax(-1)
            greedy.append(int(ids))
    greedy = vocab.decode(greedy)
    assert C.sample(model, vocab, 120, temperature=0.0) == greedy
    assert C.sample(model, vocab, 120, temperature=1e-3, seed=1) == greedy
    # at temperature 1 the samples are random: two seeds differ
    assert C.sample(model, vocab, 120, temperature=1.0, seed=1) != C.sample(
        model, vocab, 120, temperature=1.0, seed=2)


def test_lstm_and_gru_beat_the_rnn_at_equal_parameter_count(results):
    runs = {r["run"]: r for r in results["rows"]}
    rnn, lstm, gru = runs["RNN"], runs["LSTM"], runs["GRU"]
    assert abs(rnn["parameters"] - lstm["parameters"]) / lstm["parameters"] < 0.01
    assert abs(gru["parameters"] - lstm["parameters"]) / lstm["parameters"] < 0.01
    assert rnn["steps"] == lstm["steps"] == gru["steps"]
    assert lstm["val loss (nats/char)"] < rnn["val loss (nats/char)"]
    assert gru["val loss (nats/char)"] < rnn["val loss (nats/char)"]


def test_the_committed_results_are_those_of_the_committed_checkpoint(results, checkpoint):
    _, record = checkpoint
    long = [r for r in results["rows"] if "long" in r["run"]]
    assert long and long[0]["val loss (nats/char)"] == pytest.approx(record["val_loss"], abs=1e-9)


def test_the_cell_activations_render_as_coloured_html(checkpoint, data):
    model, _ = checkpoint
    text = data[0][:200]
    acts = C.cell_activations(model, text, data[1])
    assert acts.shape == (200, model.hidden) and np.abs(acts).max() <= 1.0
    units = C.find_units(acts, C.line_features(text))
    unit, corr = units["position in line"]
    assert 0 <= unit < model.hidden and -1 <= corr <= 1
    html = C.activation_html(text, acts[:, unit])
    assert html.count("<span") == 200 and "rgb(" in html


def test_quick_experiment_runs_end_to_end(tmp_path):
    res = C.charlm_experiment("quick", cells=("rnn",), num_threads=1, out=str(tmp_path))
    saved = json.loads((tmp_path / "charlm_results.json").read_text())
    assert [r["run"] for r in saved["rows"]] == ["RNN", "LSTM, 1 s budget"]
    assert all(math.isfinite(r["val loss (nats/char)"]) for r in res["rows"])


def test_every_coloured_character_is_readable_on_its_background():
    """Black or white text, whichever contrasts more: at least 4.5:1 (WCAG AA) for every value
    (issue 12: black text on saturated blue was about 2.4:1)."""
    import re

    html = C.activation_html("x" * 41, np.linspace(-1, 1, 41))
    spans = re.findall(r'background:rgb\((\d+), (\d+), (\d+)\)(;color:#fff)?', html)
    assert len(spans) == 41
    for r, g, b, white in spans:
        black_ratio = C._contrast_with_black((int(r), int(g), int(b)))
        ratio = 21 / black_ratio if white else black_ratio
        assert ratio >= 4.5, (r, g, b, white, ratio)
    assert any(white for *_, white in spans) and not all(white for *_, white in spans)
