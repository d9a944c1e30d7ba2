"""Interactive figures for the website: a slider picks one of a few precomputed settings and the
plot redraws.

The values are computed here, by the reference code, when the book is built; the page only swaps
precomputed curves. The figure is plain SVG and a dozen lines of JavaScript inside the page: no
plotting library to load (the site works offline, and a chapter page stays light), nothing that
needs a kernel. Colours are the Okabe-Ito palette, and every series also has its own dash
pattern, so no two are told apart by hue alone.

    forget_gate_frames(biases)   the LSTM: memory kept f^k and the gradient reaching back k steps
    update_gate_frames(zs)       the GRU: the state following a new input, and z^k
    SliderFigure(frames, ...)    the figure (its _repr_html_ is what a notebook or the book shows)
"""
import html
import json
import math

import numpy as np

__all__ = ["SliderFigure", "forget_gate_frames", "update_gate_frames"]

#: Okabe & Ito (2008), "Color universal design": distinct under the common colour-vision
#: deficiencies; each paired with a dash pattern (SVG stroke-dasharray).
SERIES_STYLES = (("#0072B2", ""), ("#D55E00", "7 4"), ("#009E73", "2 3"), ("#CC79A7", "10 3 2 3"))

WIDTH, HEIGHT = 640, 360
MARGIN = dict(left=72, right=16, top=16, bottom=56)


class SliderFigure:
    """A line plot whose curves follow a slider.

    frames: list of (setting label, readout text, {series label: (x, y)}) in slider order; every
        frame has the same series. Axes are fixed over all frames, so moving the slider moves the
        curves against them.
    log_y: a log-scale y axis (for quantities that decay geometrically); ylim: (low, high).
    """

    def __init__(self, frames, *, slider_label, xlabel, ylabel, log_y=False, ylim=None,
                 start=0, element_id="slider-figure", description=""):
        if not frames:
            raise ValueError("SliderFigure: no frames")
        self.frames = frames
        self.series = list(frames[0][2])
        self.slider_label, self.xlabel, self.ylabel = slider_label, xlabel, ylabel
        self.log_y, self.start, self.element_id = log_y, start, element_id
        self.description = description
        xs = np.concatenate([np.asarray(x, float) for _, _, s in frames for x, _ in s.values()])
        self.xlim = (float(xs.min()), float(xs.max()))
        if ylim is None:
            ys = np.concatenate([np.asarray(y, float) for _, _, s in frames for _, y in s.values()])
            ys = ys[np.isfinite(ys) & ((ys > 0) if log_y else True)]
            ylim = (float(ys.min()), float(ys.max()))
        self.ylim = ylim

    # --- coordinates
    def _px(self, x):
        lo, hi = self.xlim
        return MARGIN["left"] + (x - lo) / (hi - lo) * (WIDTH - MARGIN["left"] - MARGIN["right"])

    def _py(self, y):
        lo, hi = self.ylim
        if self.log_y:
            y, lo, hi = np.log10(np.maximum(y, lo)), math.log10(lo), math.log10(hi)
        frac = (np.clip(y, lo, hi) - lo) / (hi - lo)
        return HEIGHT - MARGIN["bottom"] - frac * (HEIGHT - MARGIN["top"] - MARGIN["bottom"])

    def _points(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.isfinite(y)
        if self.log_y:  # below the axis: not drawn (a line along the floor would be a value)
            keep &= y >= self.ylim[0]
        return " ".join(f"{px:.1f},{py:.1f}" for px, py in zip(self._px(x[keep]), self._py(y[keep])))

    def _ticks(self):
        lo, hi = self.xlim
        step = 10 ** math.floor(math.log10((hi - lo) / 4 or 1))
        step *= 2 if (hi - lo) / step > 10 else 1
        xt = [v for v in np.arange(math.ceil(lo / step) * step, hi + 1e-9, step)]
        if self.log_y:
            yt = [10.0 ** e for e in range(math.ceil(math.log10(self.ylim[0])),
                                         math.floor(math.log10(self.ylim[1])) + 1)]
            if len(yt) > 7:
                yt = yt[:: math.ceil(len(yt) / 7)]
            ylabels = [f"1e{int(round(math.log10(v)))}" if v != 1 else "1" for v in yt]
        else:
            yt = list(np.linspace(self.ylim[0], self.ylim[1], 5))
            ylabels = [f"{v:.2g}" for v in yt]
        return xt, yt, ylabels

    # --- HTML
    def _svg(self):
        e = html.escape
        left, bottom = MARGIN["left"], HEIGHT - MARGIN["bottom"]
        parts = [f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>']
        xt, yt, ylabels = self._ticks()
        for v in xt:
            px = self._px(v)
            parts.append(f'<line x1="{px:.1f}" y1="{MARGIN["top"]}" x2="{px:.1f}" y2="{bottom}" '
                         'stroke="#ddd"/>')
            parts.append(f'<text x="{px:.1f}" y="{bottom + 20}" text-anchor="middle">{v:g}</text>')
        for v, label in zip(yt, ylabels):
            py = float(self._py(v))
            parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{WIDTH - MARGIN["right"]}" '
                         f'y2="{py:.1f}" stroke="#ddd"/>')
            parts.append(f'<text x="{left - 6}" y="{py + 5:.1f}" text-anchor="end">{e(label)}</text>')
        parts.append(f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - MARGIN["right"]}" y2="{bottom}" '
                     'stroke="#333"/>')
        parts.append(f'<line x1="{left}" y1="{MARGIN["top"]}" x2="{left}" y2="{bottom}" stroke="#333"/>')
        parts.append(f'<text x="{(left + WIDTH - MARGIN["right"]) / 2}" y="{HEIGHT - 12}" '
                     f'text-anchor="middle">{e(self.xlabel)}</text>')
        parts.append(f'<text transform="translate(18 {(MARGIN["top"] + bottom) / 2}) rotate(-90)" '
                     f'text-anchor="middle">{e(self.ylabel)}</text>')
        _, _, series = self.frames[self.start]
        for i, name in enumerate(self.series):
            colour, dash = SERIES_STYLES[i % len(SERIES_STYLES)]
            parts.append(f'<polyline data-series="{i}" fill="none" stroke="{colour}" stroke-width="2.5" '
                         f'stroke-dasharray="{dash}" points="{self._points(*series[name])}"/>')
        return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{e(self.description)}" '
                f'style="width:100%;max-width:{WIDTH}px;height:auto;font:14px sans-serif">'
                + "".join(parts) + "</svg>")

    def _legend(self):
        items = []
        for i, name in enumerate(self.series):
            colour, dash = SERIES_STYLES[i % len(SERIES_STYLES)]
            items.append(
                '<span style="display:inline-flex;align-items:center;margin-right:1.2em">'
                f'<svg width="36" height="10" aria-hidden="true"><line x1="0" y1="5" x2="36" y2="5" '
                f'stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/></svg>'
                f'&nbsp;{html.escape(name)}</span>')
        return '<div class="slider-figure-legend">' + "".join(items) + "</div>"

    def _repr_html_(self):
        e, uid = html.escape, self.element_id
        data = {"frames": [{"setting": setting, "text": text,
                            "points": [self._points(*series[name]) for name in self.series]}
                           for setting, text, series in self.frames]}
        setting, text, _ = self.frames[self.start]
        return f"""<div class="slider-figure" id="{uid}">
<label class="slider-figure-control">{e(self.slider_label)}
<input type="range" min="0" max="{len(self.frames) - 1}" step="1" value="{self.start}"
 aria-label="{e(self.slider_label)}" aria-valuetext="{e(setting)}">
<output>{e(setting)}</output></label>
{self._svg()}
{self._legend()}
<p class="slider-figure-readout" aria-live="polite">{e(text)}</p>
<script type="application/json">{json.dumps(data)}</script>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  var data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  var input = root.querySelector("input"), output = root.querySelector("output");
  var readout = root.querySelector(".slider-figure-readout");
  var lines = root.querySelectorAll("polyline[data-series]");
  input.addEventListener("input", function () {{
    var frame = data.frames[+input.value];
    frame.points.forEach(function (points, i) {{ lines[i].setAttribute("points", points); }});
    output.textContent = frame.setting;
    input.setAttribute("aria-valuetext", frame.setting);
    readout.textContent = frame.text;
  }});
}})();
</script>
</div>"""


def forget_gate_frames(biases=(-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0), *, T=100, size="book"):
    """Frames of the forget-gate slider: for each forget-gate bias b of an untrained LSTM,
    the memory the cell path keeps after k steps, f^k with f = sigma(b), and the measured
    gradient reaching back k steps, ||dL/dh_{T-k}|| / ||dL/dh_T|| (geometric mean over seeds;
    gradient_flow's experiment)."""
    from grnn_ref import sigmoid
    from grnn_ref.experiments.gradient_flow import FLOW_SIZES, gradient_flow

    cfg = dict(FLOW_SIZES[size], T=T)
    frames = []
    for b in biases:
        f = float(sigmoid(b))
        res = gradient_flow("lstm", forget_bias=b, **cfg)
        lag = res["lag"][::-1]
        ratio = np.exp(np.log(res["ratio"]).mean(axis=0))[::-1]
        memory = f ** lag
        text = (f"forget bias {b:g}: f = {f:.3f}, the cell keeps 1/e of its content for "
                f"{-1 / math.log(f):.1f} steps; the gradient 50 steps back is "
                f"{ratio[lag == 50][0]:.0e} of its size at the loss")
        frames.append((f"b = {b:g} (f = {f:.2f})", text, {
            "memory kept by the cell path, f^k": (lag, memory),
            "gradient reaching back k steps (measured)": (lag, ratio),
        }))
    return frames


def update_gate_frames(zs=(0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99), *, T=100):
    """Frames of the update-gate slider: a GRU unit whose update gate is held at z by its bias
    and whose candidate is tanh(x) follows an input that switches from 0 to 1 (computed with
    gru_forward); beside it z^k, the share of the old state (and of the gradient along the z path)
    left after k steps."""
    from grnn_ref import Params, gru_forward

    zs = np.asarray(zs, dtype=np.float64)
    H, D = len(zs), 1
    p = Params(np.zeros((3 * H, D)), np.zeros((3 * H, H)), np.zeros(3 * H), np.zeros(3 * H))
    p.gate("z", "b_ih")[:] = np.log(zs / (1 - zs))
    p.gate("n", "W_ih")[:] = 1.0
    xs = np.ones((T, 1, D))
    hs, _ = gru_forward(xs, np.zeros((1, H)), p)
    k = np.arange(T + 1)
    frames = []
    for j, z in enumerate(zs):
        followed = np.concatenate([[0.0], hs[:, 0, j] / np.tanh(1.0)])
        text = (f"z = {z:g}: time constant 1/(1 - z) = {1 / (1 - z):.0f} steps; the old state "
                f"falls to 1/e after {-1 / math.log(z):.1f} steps")
        frames.append((f"z = {z:g}", text, {
            "state h, as a share of the new value tanh(1)": (k, followed),
            "old state (and gradient along the z path) left, z^k": (k, z ** k),
        }))
    return frames
