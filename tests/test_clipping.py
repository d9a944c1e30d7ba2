"""Pascanu et al.'s gradient-norm clipping: it matches torch's, and it stops an exploding run."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from grnn_ref.experiments import clipping, exploding, training  # noqa: E402


def _params_with_grads(seed, scale):
    g = torch.Generator().manual_seed(seed)
    ps = [torch.nn.Parameter(torch.zeros(s)) for s in [(4, 3), (7,), (2, 2, 2)]]
    for p in ps:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return ps


@pytest.mark.parametrize("scale, threshold", [(10.0, 1.0), (0.01, 1.0), (3.0, 0.5)])
def test_clip_grad_norm_matches_torch(scale, threshold):
    ours = _params_with_grads(0, scale)
    theirs = _params_with_grads(0, scale)
    n_ours = clipping.clip_grad_norm_(ours, threshold)
    n_theirs = float(torch.nn.utils.clip_grad_norm_(theirs, threshold))
    assert n_ours == pytest.approx(n_theirs, rel=1e-6)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)


def test_clipping_rescales_the_whole_gradient_to_the_threshold_and_keeps_its_direction():
    ps = _params_with_grads(1, 10.0)
    before = torch.cat([p.grad.flatten() for p in ps]).clone()
    norm = clipping.clip_grad_norm_(ps, 2.0)
    after = torch.cat([p.grad.flatten() for p in ps])
    assert norm == pytest.approx(float(before.norm()))
    assert float(after.norm()) == pytest.approx(2.0, rel=1e-6)
    torch.testing.assert_close(after, before * (2.0 / norm))
    # below the threshold nothing changes
    small = _params_with_grads(2, 1e-3)
    copy = [p.grad.clone() for p in small]
    clipping.clip_grad_norm_(small, 1.0)
    for p, c in zip(small, copy):
        assert torch.equal(p.grad, c)


def test_bad_threshold_raises():
    with pytest.raises(ValueError, match="threshold"):
        clipping.clip_grad_norm_(_params_with_grads(0, 1.0), 0.0)


def test_large_sigma_max_diverges_without_clipping_and_trains_with_it():
    # tanh RNN, W_hh = 3 x orthogonal (sigma_max = 3), plain SGD lr 0.1, adding problem T = 20
    res = exploding.exploding_experiment("quick", seed=0)
    free, clipped = res["results"]["no clip"], res["results"]["clip"]
    assert free.grad_norms[0] > 100                      # the gradient explodes at init
    assert free.diverged
    losses = np.array([l for _, l in free.curve])
    assert not np.all(np.isfinite(losses)) or losses.max() > 1e6
    assert not clipped.diverged
    c_losses = np.array([l for _, l in clipped.curve])
    assert np.all(np.isfinite(c_losses)) and c_losses.max() < 10
    assert math.isfinite(clipped.test_loss)
    # the clipped run saw the same exploding gradients and only ever stepped with norm 1
    assert clipped.grad_norms.max() > 100


def test_clipping_threshold_is_what_train_applies():
    cfg = dict(T=20, steps=3, hidden=32, batch=32, optimizer="sgd", lr=0.1, w_hh_sigma=3.0)
    r = training.train("rnn", "adding", clip=1.0, seed=0, **cfg)
    # reconstruct the first step by hand: after one clipped SGD step of lr 0.1 the parameters
    # moved by exactly lr * threshold in L2 norm
    torch.manual_seed(0)
    m0 = training.build_model("rnn", "adding", 32)
    training._scale_w_hh(m0.rnn, 3.0, 0)
    r1 = training.train("rnn", "adding", clip=1.0, seed=0, **dict(cfg, steps=1))
    moved = torch.sqrt(sum(((r1.state_dict[k] - v) ** 2).sum() for k, v in m0.state_dict().items()))
    assert float(moved) == pytest.approx(0.1 * 1.0, rel=1e-4)
    assert r.grad_norms[0] > 1.0
