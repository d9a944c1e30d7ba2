"""Exercise 6 (the LSTM in PyTorch): an LSTM cell as a torch.nn.Module, and a model trained on the
adding problem. torch is imported only when a check runs (the grading kernel allows it for ex06)."""
import numpy as np

from grnn_ref.grading.cases import (GRAD_NAMES, BadOutput, Check, Verdict, params_of, register,
                                    tuple_of)
from grnn_ref.grading.cells import CELL_CHECKS, STEP_HIDDEN, STEP_VISIBLE
from grnn_ref.tasks import ADDING_BASELINE_MSE, adding_problem

_LSTM_STEP_FORWARD = CELL_CHECKS["lstm_step_forward"]
_TORCH_NAMES = (("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh"))


class TorchLSTMCellCheck(Check):
    """The student's cell class is built with (D, H), gets the case's weights through
    load_state_dict (torch.nn.LSTMCell's names), runs forward and backward with autograd: one
    LSTM step's states and gradients, on lstm_step_forward's inputs and upstream gradients."""
    family = "torch_cell"

    def build(self, shape, rng):
        inputs = _LSTM_STEP_FORWARD.build(shape, rng)
        for name in ("dh_next", "dc_next"):
            inputs[name] = rng.standard_normal(inputs["h_prev"].shape).astype(shape["dtype"])
        return inputs

    def call(self, fns, inputs):
        import torch

        cls = fns[0]
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
            inputs["x"].dtype]
        D, H = inputs["x"].shape[1], inputs["h_prev"].shape[1]
        cell = cls(D, H)
        # to the case's dtype first: load_state_dict copies into the parameters' current dtype
        cell.to(dtype)
        cell.load_state_dict({k: torch.tensor(inputs[n]) for k, n in _TORCH_NAMES})
        x, h, c = (torch.tensor(inputs[n], requires_grad=True) for n in ("x", "h_prev", "c_prev"))
        h_next, c_next = tuple_of(cell(x, (h, c)), 2, "(h_next, c_next)")
        loss = ((h_next * torch.tensor(inputs["dh_next"])).sum()
                + (c_next * torch.tensor(inputs["dc_next"])).sum())
        loss.backward()
        params = dict(cell.named_parameters())

        def grad(t):
            return (t.grad if t.grad is not None else torch.zeros_like(t)).detach().numpy()
        outputs = {"h_next": h_next.detach().numpy(), "c_next": c_next.detach().numpy(),
                   "dx": grad(x), "dh_prev": grad(h), "dc_prev": grad(c)}
        for name, (key, _) in zip(GRAD_NAMES, _TORCH_NAMES):
            outputs[name] = grad(params[key])
        return outputs

    def reference(self, inputs):
        from grnn_ref.lstm import lstm_step_backward, lstm_step_forward

        h_next, c_next, cache = lstm_step_forward(inputs["x"], inputs["h_prev"], inputs["c_prev"],
                                                  params_of(inputs))
        dx, dh_prev, dc_prev, dp = lstm_step_backward(inputs["dh_next"], inputs["dc_next"], cache)
        return {"h_next": h_next, "c_next": c_next, "dx": dx, "dh_prev": dh_prev,
                "dc_prev": dc_prev, **dict(zip(GRAD_NAMES, dp))}


# A trained adding-problem model passes if its MSE on fresh sequences is below this: under a third
# of the baseline 1/6 (always predicting 1). The notebook's 300 Adam steps reach about 0.01.
ADDING_MAX_MSE = 0.05
ADDING_T = 10
ADDING_N = 256


class AddingModelCheck(Check):
    """model(xs (T, n, 2)) -> (n, 1) on fresh adding-problem sequences; MSE well below 1/6."""
    family = "adding"
    takes_functions = False
    single_verdict = True
    compared_with_reference = False   # an MSE on fresh sequences from grnn_ref.tasks (kernel side)

    def build(self, shape, rng):
        xs, ys = adding_problem(ADDING_N, ADDING_T, seed=int(rng.integers(2 ** 31)))
        return {"xs": xs, "ys": ys}

    def call(self, fns, inputs):
        import torch

        model = fns[0]
        if not isinstance(model, torch.nn.Module):
            raise BadOutput(f"expected your trained model (a torch.nn.Module), got "
                            f"{type(model).__name__}")
        with torch.no_grad():
            y = model(torch.from_numpy(inputs["xs"]))
        return {"y_pred": y.detach().numpy()}

    def evaluate(self, case_id, inputs, outputs, secret=None):
        y, want = outputs.get("y_pred"), inputs["ys"]
        if y is None or np.shape(y) != want.shape:
            return Verdict(False, f"{self.name}: your model's output has shape {np.shape(y)}, "
                                  f"expected {want.shape} (one prediction per sequence).")
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            return Verdict(False, f"{self.name}: your model's predictions contain NaN or inf.")
        mse = float(np.mean((y - want) ** 2))
        if mse < ADDING_MAX_MSE:
            return Verdict(True)
        return Verdict(False, f"{self.name}: on {len(want)} fresh adding-problem sequences (T = "
                              f"{inputs['xs'].shape[0]}) your model's MSE is {mse:.4f}; it must be "
                              f"below {ADDING_MAX_MSE} (the baseline of always predicting 1 is 1/6 "
                              f"= {ADDING_BASELINE_MSE:.4f}). Check your cell against the torch "
                              f"test above, and that the model reads the hidden state after the "
                              f"last step.")


register(TorchLSTMCellCheck("torch_lstm_cell",
                            ("h_next", "c_next", "dx", "dh_prev", "dc_prev") + GRAD_NAMES,
                            STEP_VISIBLE,
                            STEP_HIDDEN, kind="lstm"))
register(AddingModelCheck("adding_model", ("y_pred",), ({"dtype": "float32"},),
                          ({"dtype": "float32"},)))
