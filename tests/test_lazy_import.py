"""`import grnn_ref` and the whole numpy reference run without importing torch (grading kernels
start fast, and numpy exercises run where torch is hidden). Each check runs in a fresh interpreter,
because this test process has probably imported torch already."""
import subprocess
import sys
import textwrap


def run_fresh(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_and_use_of_the_numpy_reference_does_not_import_torch():
    out = run_fresh("""
        import sys
        import numpy as np
        import grnn_ref
        assert "torch" not in sys.modules, "import grnn_ref imported torch"
        rng = np.random.default_rng(0)
        xs, h0 = rng.standard_normal((3, 2, 4)), np.zeros((2, 5))
        for kind in ("rnn", "gru"):
            p = grnn_ref.init_params(kind, 4, 5, seed=0)
            hs, cache = getattr(grnn_ref, kind + "_forward")(xs, h0, p)
            getattr(grnn_ref, kind + "_backward")(np.ones_like(hs), cache)
        p = grnn_ref.init_params("lstm", 4, 5, seed=0, forget_bias=1.0)
        hs, cs, cache = grnn_ref.lstm_forward(xs, h0, h0, p)
        grnn_ref.lstm_backward(np.ones_like(hs), cache, dcs=np.ones_like(cs))
        from grnn_ref.lstm import lstm_gates
        from grnn_ref.gru import gru_gates
        lstm_gates(cache)
        grnn_ref.sigmoid(np.array([1e4, -1e4]))
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    assert out == "[]"


def test_gradcheck_does_not_import_torch():
    out = run_fresh("""
        import sys
        import grnn_ref
        errors = grnn_ref.gradcheck.check_gradients("lstm", 2, 1, 2, 3, seed=0)
        assert max(errors.values()) < 1e-6, errors
        print("torch" in sys.modules)
    """)
    assert out == "False"


def test_torch_interop_loads_torch_only_when_used():
    out = run_fresh("""
        import sys
        import grnn_ref
        p = grnn_ref.init_params("gru", 2, 3, seed=0)
        before = "torch" in sys.modules
        state = p.to_torch_state_dict()
        print(before, "torch" in sys.modules, sorted(state))
    """)
    assert out == "False True ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']"
