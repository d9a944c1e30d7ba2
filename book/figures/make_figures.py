"""Writes the course's SVG diagrams into book/figures/.

Every gate diagram is the same base cell drawing; a variant only says which parts are highlighted
(drawn in the highlight colour) and which are dimmed, and which equation is printed under it.
"""
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent   # run: python book/figures/make_figures.py

HL = "#E8590C"          # highlighted path
WIRE = "#4A4A4A"
BOX_FILL, BOX_STROKE = "#FFF1BF", "#B8920F"      # learned layers (affine map + nonlinearity)
PW_FILL, PW_STROKE = "#F9D5E2", "#B0306A"        # pointwise operations
BODY_FILL, BODY_STROKE = "#F6F7F9", "#C3C7CF"
X_COL, H_COL, C_COL = "#2E7D32", "#1E5FB4", "#7B3FA0"
DIM = 0.22
SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"
SERIF = "DejaVu Serif, Georgia, 'Times New Roman', serif"

UPRIGHT = {"tanh", "σ"}


def math_tspans(s, size):
    """A tiny math typesetter: `_{..}`/`_c` subscripts, `^{..}` superscripts, single letters italic."""
    out, off = [], 0.0
    i = 0
    def emit(text, shift, italic, small):
        nonlocal off
        attrs = []
        dy = shift - off
        if dy:
            attrs.append(f'dy="{dy:g}"')
        off = shift
        if italic:
            attrs.append('font-style="italic"')
        if small:
            attrs.append(f'font-size="{size * 0.72:g}"')
        text = text.replace("&", "&amp;").replace("<", "&lt;")
        out.append(f"<tspan {' '.join(attrs)}>{text}</tspan>" if attrs else f"<tspan>{text}</tspan>")
    while i < len(s):
        ch = s[i]
        if ch in "_^" and i + 1 < len(s):
            if s[i + 1] == "{":
                j = s.index("}", i)
                body = s[i + 2:j]
                i = j + 1
            else:
                body = s[i + 1]
                i += 2
            shift = size * 0.3 if ch == "_" else -size * 0.38
            emit(body, shift, False, True)
            continue
        m = re.match(r"[A-Za-z]+", s[i:])
        if m:
            word = m.group(0)
            emit(word, 0, len(word) == 1 and word not in UPRIGHT, False)
            i += len(word)
            continue
        m = re.match(r"[^A-Za-z_^]+", s[i:])
        emit(m.group(0), 0, False, False)
        i += len(m.group(0))
    if off:
        out.append(f'<tspan dy="{-off:g}"></tspan>')
    return "".join(out)


class Drawing:
    def __init__(self, w, h, title, desc, highlight=None):
        self.w, self.h = w, h
        self.title, self.desc = title, desc
        self.hl = set(highlight or ())
        self.parts = []

    def state(self, tags):
        if not self.hl or tags is None:
            return "normal"
        return "on" if set(tags) & self.hl else "dim"

    def _wrap(self, svg, tags):
        st = self.state(tags)
        if st == "dim":
            return f'<g opacity="{DIM}">{svg}</g>'
        return svg

    def wire(self, pts, tags=(), arrow=True, halo=False, color=None, dash=None, width=None):
        st = self.state(tags)
        col = HL if st == "on" else (color or WIRE)
        w = width or (4 if st == "on" else 2.2)
        d = "M" + " L".join(f"{x:g},{y:g}" for x, y in pts)
        marker = ""
        if arrow:
            marker = f' marker-end="url(#{"arrow-hl" if col == HL else "arrow-" + col.lstrip("#")})"'
            self.markers.add(col)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        svg = ""
        if halo:
            svg += f'<path d="{d}" fill="none" stroke="#FFFFFF" stroke-width="{w + 7:g}"/>'
        svg += (f'<path d="{d}" fill="none" stroke="{col}" stroke-width="{w:g}" '
                f'stroke-linejoin="round"{dash_attr}{marker}/>')
        self.parts.append(self._wrap(svg, tags))

    def dot(self, x, y, tags=()):
        st = self.state(tags)
        col = HL if st == "on" else WIRE
        self.parts.append(self._wrap(f'<circle cx="{x:g}" cy="{y:g}" r="{5 if st == "on" else 4}" fill="{col}"/>', tags))

    def layer(self, cx, cy, label, tags=(), w=56, h=36, size=17):
        st = self.state(tags)
        stroke, sw = (HL, 3.5) if st == "on" else (BOX_STROKE, 1.8)
        svg = (f'<rect x="{cx - w / 2:g}" y="{cy - h / 2:g}" width="{w:g}" height="{h:g}" rx="6" '
               f'fill="{BOX_FILL}" stroke="{stroke}" stroke-width="{sw}"/>'
               f'<text x="{cx:g}" y="{cy + size * 0.35:g}" text-anchor="middle" font-family="{SERIF}" '
               f'font-size="{size}">{math_tspans(label, size)}</text>')
        self.parts.append(self._wrap(svg, tags))

    def pointwise(self, cx, cy, label, tags=(), r=14, rx=None, size=18):
        st = self.state(tags)
        stroke, sw = (HL, 3.5) if st == "on" else (PW_STROKE, 1.8)
        if rx:
            shape = f'<ellipse cx="{cx:g}" cy="{cy:g}" rx="{rx}" ry="{r}" fill="{PW_FILL}" stroke="{stroke}" stroke-width="{sw}"/>'
        else:
            shape = f'<circle cx="{cx:g}" cy="{cy:g}" r="{r}" fill="{PW_FILL}" stroke="{stroke}" stroke-width="{sw}"/>'
        svg = shape + (f'<text x="{cx:g}" y="{cy + size * 0.35:g}" text-anchor="middle" font-family="{SANS}" '
                       f'font-size="{size}">{label}</text>')
        self.parts.append(self._wrap(svg, tags))

    def text(self, x, y, s, tags=None, size=16, anchor="start", color="#222", font=SERIF, weight=None):
        wt = f' font-weight="{weight}"' if weight else ""
        svg = (f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-family="{font}" font-size="{size}" '
               f'fill="{color}" style="white-space:pre"{wt}>{math_tspans(s, size)}</text>')
        self.parts.append(self._wrap(svg, tags))

    def plain(self, x, y, s, size=14, anchor="start", color="#444", tags=None, italic=False):
        it = ' font-style="italic"' if italic else ""
        s = s.replace("&", "&amp;").replace("<", "&lt;")
        svg = (f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-family="{SANS}" font-size="{size}" '
               f'fill="{color}" style="white-space:pre"{it}>{s}</text>')
        self.parts.append(self._wrap(svg, tags))

    def raw(self, svg, tags=None):
        self.parts.append(self._wrap(svg, tags))

    def render(self):
        markers = []
        for col in sorted(self.markers):
            mid = "arrow-hl" if col == HL else "arrow-" + col.lstrip("#")
            markers.append(
                f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{3.2 if col == HL else 4.2}" '
                f'markerHeight="{3.2 if col == HL else 4.2}" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{col}"/></marker>')
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
                f'width="{self.w}" height="{self.h}" role="img" aria-labelledby="title desc">\n'
                f'<title id="title">{self.title}</title>\n<desc id="desc">{self.desc}</desc>\n'
                f'<defs>{"".join(markers)}</defs>\n'
                f'<rect width="{self.w}" height="{self.h}" fill="#FFFFFF"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"

    markers = None

    def __post_init__(self):
        pass


def new(w, h, title, desc, highlight=None):
    d = Drawing(w, h, title, desc, highlight)
    d.markers = set()
    return d


def equations(d, lines, y0, size=19, gap=32):
    for k, line in enumerate(lines):
        d.text(d.w / 2, y0 + k * gap, line, None, size=size, anchor="middle")


# ----------------------------------------------------------------------------------------- LSTM
ALL_LSTM = ("forget", "input", "cell", "output")


def lstm(highlight=None, eqs=(), title="", desc="", legend=False):
    d = new(760, 500 if eqs or legend else 430, title, desc, highlight)
    d.raw(f'<rect x="100" y="30" width="560" height="330" rx="20" fill="{BODY_FILL}" stroke="{BODY_STROKE}" stroke-width="1.5"/>')
    # cell state: the straight line along the top (the additive path)
    d.wire([(20, 75), (206, 75)], ("forget", "cell"), arrow=True, color=C_COL)
    d.wire([(234, 75), (376, 75)], ("cell",), color=C_COL)
    d.wire([(404, 75), (740, 75)], ("cell", "output"), color=C_COL)
    d.text(28, 62, "c_{t−1}", ("forget", "cell"), color=C_COL, size=18)
    d.text(735, 62, "c_t", ("cell", "output"), color=C_COL, size=18, anchor="end")
    # [x_t, h_{t-1}] bus along the bottom, one branch per gate
    d.wire([(20, 315), (160, 315)], ALL_LSTM[:2] + ("output",), arrow=False, color=H_COL)
    d.text(28, 302, "h_{t−1}", ALL_LSTM[:2] + ("output",), color=H_COL, size=18)
    d.wire([(160, 392), (160, 317)], ("forget", "input", "output"), arrow=False, color=X_COL)
    d.text(160, 414, "x_t", ("forget", "input", "output"), color=X_COL, size=18, anchor="middle")
    d.wire([(160, 315), (220, 315)], ("forget", "input", "output"), arrow=False)
    d.wire([(220, 315), (320, 315)], ("input", "output"), arrow=False)
    d.wire([(320, 315), (390, 315)], ("input", "output"), arrow=False)
    d.wire([(390, 315), (490, 315)], ("output",), arrow=False)
    d.dot(160, 315, ("forget", "input", "output"))
    d.dot(220, 315, ("forget", "input", "output"))
    d.dot(320, 315, ("input", "output"))
    d.dot(390, 315, ("input", "output"))
    for cx, tag in ((220, "forget"), (320, "input"), (390, "input"), (490, "output")):
        d.wire([(cx, 315), (cx, 254)], (tag,))
    # gates
    d.layer(220, 235, "σ", ("forget",))
    d.layer(320, 235, "σ", ("input",))
    d.layer(390, 235, "tanh", ("input",), size=15)
    d.layer(490, 235, "σ", ("output",))
    d.wire([(220, 217), (220, 90)], ("forget", "cell"))
    d.text(230, 165, "f_t", ("forget", "cell"), size=18)
    d.wire([(320, 217), (320, 160), (375, 160)], ("input",))
    d.text(300, 192, "i_t", ("input",), size=18, anchor="end")
    d.wire([(390, 217), (390, 175)], ("input",))
    d.text(400, 204, "g_t", ("input",), size=18)
    d.pointwise(390, 160, "×", ("input",))
    d.wire([(390, 146), (390, 90)], ("input", "cell"))
    d.text(400, 122, "i_t ⊙ g_t", ("input", "cell"), size=15)
    d.pointwise(220, 75, "×", ("forget", "cell"))
    d.pointwise(390, 75, "+", ("cell",))
    # output: h_t = o_t * tanh(c_t)
    d.dot(580, 75, ("output",))
    d.wire([(580, 75), (580, 135)], ("output",), color=C_COL)
    d.pointwise(580, 150, "tanh", ("output",), rx=27, size=14)
    d.wire([(580, 164), (580, 220)], ("output",))
    d.wire([(518, 235), (565, 235)], ("output",))
    d.text(536, 225, "o_t", ("output",), size=18, anchor="middle")
    d.pointwise(580, 235, "×", ("output",))
    d.wire([(580, 249), (580, 315), (740, 315)], ("output",), color=H_COL)
    d.text(735, 302, "h_t", ("output",), color=H_COL, size=18, anchor="end")
    if legend:
        legend_row(d, 462)
    equations(d, eqs, 462)
    return d


def legend_row(d, y):
    x = 30
    d.raw(f'<rect x="{x}" y="{y - 15}" width="34" height="22" rx="4" fill="{BOX_FILL}" stroke="{BOX_STROKE}" stroke-width="1.6"/>')
    d.plain(x + 42, y + 1, "learned layer (weights and biases)")
    x = 400
    d.raw(f'<circle cx="{x + 11}" cy="{y - 4}" r="11" fill="{PW_FILL}" stroke="{PW_STROKE}" stroke-width="1.6"/>')
    d.plain(x + 30, y + 1, "pointwise operation (⊙: elementwise ×)")
    y += 26
    x = 30
    d.raw(f'<circle cx="{x + 17}" cy="{y - 4}" r="4" fill="{WIRE}"/>')
    d.plain(x + 42, y + 1, "copy: the value goes both ways")
    x = 400
    d.raw(f'<path d="M{x},{y - 4} L{x + 24},{y - 4}" stroke="{WIRE}" stroke-width="2.2" marker-end="url(#arrow-{WIRE.lstrip("#")})"/>')
    d.markers.add(WIRE)
    d.plain(x + 30, y + 1, "a vector of H numbers per example")


# ------------------------------------------------------------------------------------------ GRU
def gru(highlight=None, eqs=(), title="", desc="", legend=False):
    d = new(800, 530 if eqs or legend else 450, title, desc, highlight)
    d.raw(f'<rect x="55" y="30" width="690" height="335" rx="20" fill="{BODY_FILL}" stroke="{BODY_STROKE}" stroke-width="1.5"/>')
    every = ("reset", "update", "cand")
    # h_{t-1} runs along the top; the update gate mixes it with the candidate
    d.wire([(20, 70), (80, 70)], every, arrow=False, color=H_COL)
    d.text(24, 57, "h_{t−1}", every, color=H_COL, size=18)
    d.wire([(80, 70), (320, 70)], ("update", "cand", "reset"), arrow=False, color=H_COL)
    d.wire([(320, 70), (585, 70)], ("update",), color=H_COL)
    d.wire([(615, 70), (685, 70)], ("update",), color=H_COL)
    d.wire([(715, 70), (780, 70)], ("update",), color=H_COL)
    d.text(776, 57, "h_t", ("update",), color=H_COL, size=18, anchor="end")
    d.dot(80, 70, every)
    d.dot(320, 70, ("cand", "reset"))
    # bus [x_t, h_{t-1}] for the two gates
    d.wire([(80, 70), (80, 340), (130, 340)], ("reset", "update"), arrow=False, color=H_COL)
    d.wire([(130, 420), (130, 395)], ("reset", "update", "cand"), arrow=False, color=X_COL)
    d.wire([(130, 395), (130, 342)], ("reset", "update"), arrow=False, color=X_COL)
    d.text(130, 442, "x_t", ("reset", "update", "cand"), color=X_COL, size=18, anchor="middle")
    d.wire([(130, 340), (190, 340)], ("reset", "update"), arrow=False)
    d.wire([(190, 340), (600, 340)], ("update",), arrow=False)
    d.dot(130, 340, ("reset", "update"))
    d.dot(190, 340, ("reset", "update"))
    # x_t alone feeds the candidate's input part
    d.dot(130, 395, ("cand",))
    d.wire([(130, 395), (420, 395)], ("cand",), arrow=False)
    d.wire([(420, 395), (420, 298)], ("cand",), halo=True)
    # reset gate
    d.wire([(190, 340), (190, 293)], ("reset",))
    d.layer(190, 275, "σ", ("reset",))
    d.wire([(190, 257), (190, 200), (305, 200)], ("reset",))
    d.text(200, 232, "r_t", ("reset",), size=18)
    # candidate: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    d.wire([(320, 70), (320, 112)], ("cand", "reset"), color=H_COL)
    d.layer(320, 130, "W_{hn} h_{t−1} + b_{hn}", ("cand", "reset"), w=150, size=14)
    d.wire([(320, 148), (320, 185)], ("cand", "reset"))
    d.pointwise(320, 200, "×", ("cand", "reset"))
    d.wire([(334, 200), (405, 200)], ("cand",))
    d.layer(420, 280, "W_{in} x_t + b_{in}", ("cand",), w=124, size=14)
    d.wire([(420, 262), (420, 215)], ("cand",))
    d.pointwise(420, 200, "+", ("cand",))
    d.wire([(434, 200), (482, 200)], ("cand",))
    d.pointwise(510, 200, "tanh", ("cand",), rx=27, size=14)
    d.wire([(537, 200), (685, 200)], ("cand", "update"))
    d.text(560, 190, "n_t", ("cand", "update"), size=18)
    # update gate (drawn last so its wire passes over the candidate's)
    d.wire([(600, 340), (600, 293)], ("update",))
    d.layer(600, 275, "σ", ("update",))
    d.wire([(600, 257), (600, 85)], ("update",), halo=True)
    d.text(610, 120, "z_t", ("update",), size=18)
    d.dot(600, 238, ("update",))
    d.wire([(600, 238), (634, 238)], ("update",))
    d.pointwise(650, 238, "1−", ("update",), r=15, size=13)
    d.wire([(665, 238), (700, 238), (700, 215)], ("update",))
    d.text(672, 262, "1 − z_t", ("update",), size=14)
    d.pointwise(700, 200, "×", ("update",))
    d.wire([(700, 186), (700, 85)], ("update",))
    d.pointwise(600, 70, "×", ("update",))
    d.pointwise(700, 70, "+", ("update",))
    if legend:
        legend_row(d, 485)
    equations(d, eqs, 482)
    return d


# ------------------------------------------------------------------------------ unrolled RNN
def rnn_unrolled():
    d = new(840, 380, "The simple RNN, folded and unrolled in time",
            "Left: one tanh cell whose output feeds back into itself. Right: the same cell copied "
            "once per time step; h_0 enters the first copy, each copy reads x_t and h_(t-1) and "
            "produces h_t, which goes up to the output and right to the next step. All copies share "
            "the parameters W_ih, W_hh, b_ih, b_hh.")
    def cell(cx, label="tanh"):
        d.raw(f'<rect x="{cx - 40}" y="125" width="80" height="50" rx="8" fill="{BOX_FILL}" stroke="{BOX_STROKE}" stroke-width="1.8"/>')
        d.text(cx, 156, label, size=17, anchor="middle")
    # folded
    cell(90)
    d.wire([(90, 250), (90, 177)], color=X_COL)
    d.text(90, 272, "x_t", color=X_COL, size=18, anchor="middle")
    d.wire([(90, 123), (90, 62)], color=H_COL)
    d.text(90, 50, "h_t", color=H_COL, size=18, anchor="middle")
    d.raw(f'<path d="M130,138 C190,118 190,182 132,162" fill="none" stroke="{H_COL}" stroke-width="2.2" marker-end="url(#arrow-{H_COL.lstrip("#")})"/>')
    d.markers.add(H_COL)
    d.text(176, 110, "h_{t−1}", color=H_COL, size=14)
    d.plain(170, 205, "one step", size=12, color="#777", italic=True)
    d.plain(220, 157, "=", size=30, anchor="middle", color="#555")
    d.text(262, 156, "h_0", color=H_COL, size=18, anchor="middle")
    xs = [350, 490, 630, 780]
    names = ["1", "2", "3", "T"]
    prev = 278
    for cx, n in zip(xs, names):
        if n == "T":
            d.plain(703, 158, "⋯", size=26, anchor="middle", color="#555")
            d.wire([(722, 150), (738, 150)], color=H_COL)
        else:
            d.wire([(prev, 150), (cx - 42, 150)], color=H_COL)
        cell(cx)
        d.wire([(cx, 250), (cx, 177)], color=X_COL)
        d.text(cx, 272, f"x_{n}", color=X_COL, size=18, anchor="middle")
        d.wire([(cx, 123), (cx, 62)], color=H_COL)
        d.text(cx, 50, f"h_{n}", color=H_COL, size=18, anchor="middle")
        prev = cx + 40
    d.wire([(630 + 40, 150), (688, 150)], color=H_COL, arrow=False)
    d.text(565, 305, "the same W_{ih}, W_{hh}, b_{ih}, b_{hh} in every copy (parameter sharing)",
           size=16, anchor="middle", color="#555")
    d.text(420, 345, "h_t = tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t−1} + b_{hh})      x_t: (B, D)   h_t: (B, H)",
           size=18, anchor="middle")
    return d


def bptt():
    d = new(840, 430, "Backpropagation through time",
            "The unrolled RNN with a loss L_t at every step. Grey arrows: the forward pass. Orange "
            "arrows: the backward pass. The gradient with respect to h_t is the loss's own gradient "
            "plus the gradient that comes back from step t+1 through W_hh and the tanh derivative; "
            "the gradients of the shared parameters are summed over all steps.",
            highlight={"back"})
    xs = [190, 350, 510, 670]
    names = ["1", "2", "3", "4"]
    d.text(100, 156, "h_0", color=H_COL, size=18, anchor="middle")
    prev = 116
    for k, (cx, n) in enumerate(zip(xs, names)):
        d.wire([(prev, 145), (cx - 42, 145)], None, color="#9A9A9A")
        d.raw(f'<rect x="{cx - 40}" y="120" width="80" height="50" rx="8" fill="{BOX_FILL}" stroke="{BOX_STROKE}" stroke-width="1.8"/>')
        d.text(cx, 151, "tanh", size=17, anchor="middle")
        d.wire([(cx - 14, 240), (cx - 14, 172)], None, color="#9A9A9A")
        d.text(cx - 14, 258, f"x_{n}", color=X_COL, size=16, anchor="middle")
        d.wire([(cx - 14, 118), (cx - 14, 72)], None, color="#9A9A9A")
        d.raw(f'<rect x="{cx - 32}" y="32" width="64" height="38" rx="19" fill="#FFFFFF" stroke="#9A9A9A" stroke-width="1.6"/>')
        d.text(cx, 57, f"L_{n}", size=17, anchor="middle")
        # backward: from the loss down into h_t
        d.wire([(cx + 14, 72), (cx + 14, 118)], ("back",))
        # backward: gradient contribution of this step to the shared parameters
        d.wire([(cx + 14, 172), (cx + 14, 292)], ("back",), dash="6 4")
        if k > 0:
            d.wire([(cx - 42, 162), (xs[k - 1] + 42, 162)], ("back",))
        prev = cx + 40
    d.text(228, 97, "∂L_1/∂h_1", size=13, color=HL)
    d.raw(f'<rect x="150" y="294" width="580" height="44" rx="8" fill="#FFF4EC" stroke="{HL}" stroke-width="1.8"/>')
    d.text(440, 322, "dW_{hh} = Σ_t [(1 − h_t^2) ⊙ δ_t]^T h_{t−1}   (summed over t, because W_{hh} is shared)",
           size=15, anchor="middle")
    d.text(420, 380, "δ_t = ∂L/∂h_t = ∂L_t/∂h_t + [(1 − h_{t+1}^2) ⊙ δ_{t+1}] W_{hh}", size=19, anchor="middle")
    d.plain(420, 412, "grey: forward pass      orange: backward pass, from t = T down to t = 1",
            size=13, anchor="middle", color="#555")
    return d


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    figs = {
        "rnn-unrolled.svg": rnn_unrolled(),
        "bptt.svg": bptt(),
        "lstm-cell.svg": lstm(legend=True, title="The LSTM cell",
            desc="The LSTM cell. The cell state c runs straight along the top, touched only by a "
                 "multiplication with the forget gate f and an addition of i times g. Below, "
                 "x_t and h_(t-1) feed four learned layers: the forget gate f, the input gate i "
                 "(sigmoids), the candidate g (tanh) and the output gate o (sigmoid). The new hidden "
                 "state is o times tanh of the new cell state."),
        "lstm-forget-gate.svg": lstm({"forget"},
            ["f_t = σ(W_{if} x_t + b_{if} + W_{hf} h_{t−1} + b_{hf})"],
            title="The LSTM's forget gate",
            desc="The LSTM cell with the forget gate's path highlighted: x_t and h_(t-1) go into a "
                 "sigmoid layer whose output f_t multiplies the old cell state c_(t-1) elementwise."),
        "lstm-input-gate.svg": lstm({"input"},
            ["i_t = σ(W_{ii} x_t + b_{ii} + W_{hi} h_{t−1} + b_{hi})",
             "g_t = tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t−1} + b_{hg})"],
            title="The LSTM's input gate and candidate",
            desc="The LSTM cell with the input gate and the candidate highlighted: a sigmoid layer "
                 "gives i_t, a tanh layer gives g_t, and their elementwise product is added to the "
                 "cell state."),
        "lstm-cell-update.svg": lstm({"cell"},
            ["c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t"],
            title="The LSTM's cell-state update",
            desc="The LSTM cell with the cell-state path highlighted: c_(t-1) is multiplied by f_t, "
                 "then i_t times g_t is added, giving c_t."),
        "lstm-output-gate.svg": lstm({"output"},
            ["o_t = σ(W_{io} x_t + b_{io} + W_{ho} h_{t−1} + b_{ho})",
             "h_t = o_t ⊙ tanh(c_t)"],
            title="The LSTM's output gate",
            desc="The LSTM cell with the output path highlighted: a sigmoid layer gives o_t, the new "
                 "cell state goes through tanh, and their product is the new hidden state h_t."),
        "gru-cell.svg": gru(legend=True, title="The GRU cell (PyTorch's convention)",
            desc="The GRU cell as PyTorch computes it. h_(t-1) runs along the top. x_t and h_(t-1) "
                 "feed two sigmoid gates, the reset gate r and the update gate z. The candidate n is "
                 "tanh of W_in x_t + b_in plus r times (W_hn h_(t-1) + b_hn). The new state is "
                 "(1 - z) times n plus z times h_(t-1)."),
        "gru-reset-gate.svg": gru({"reset"},
            ["r_t = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t−1} + b_{hr})",
             "r_t scales W_{hn} h_{t−1} + b_{hn}, the old state's part of the candidate"],
            title="The GRU's reset gate",
            desc="The GRU cell with the reset gate highlighted: a sigmoid layer of x_t and h_(t-1) "
                 "gives r_t, which multiplies W_hn h_(t-1) + b_hn inside the candidate."),
        "gru-update-gate.svg": gru({"update"},
            ["z_t = σ(W_{iz} x_t + b_{iz} + W_{hz} h_{t−1} + b_{hz})",
             "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}"],
            title="The GRU's update gate",
            desc="The GRU cell with the update gate highlighted: a sigmoid layer gives z_t; the new "
                 "state is z_t times the old state plus (1 - z_t) times the candidate n_t."),
        "gru-candidate.svg": gru({"cand"},
            ["n_t = tanh(W_{in} x_t + b_{in} + r_t ⊙ (W_{hn} h_{t−1} + b_{hn}))"],
            title="The GRU's candidate state",
            desc="The GRU cell with the candidate highlighted: W_in x_t + b_in is added to r_t times "
                 "(W_hn h_(t-1) + b_hn), and tanh of the sum is the candidate n_t."),
    }
    for name, d in figs.items():
        (OUT / name).write_text(d.render(), encoding="utf-8")
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
