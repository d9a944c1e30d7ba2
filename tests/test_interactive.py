"""The website's interactive figures: curves computed by the reference code, a page that loads
nothing from anywhere (the browser test moves the sliders)."""

import re

import numpy as np

from grnn_ref.experiments.interactive import SliderFigure, forget_gate_frames, update_gate_frames


def test_a_larger_forget_bias_keeps_more_memory_and_more_gradient_50_steps_back():
    frames = forget_gate_frames(biases=(0.0, 1.0, 3.0), size="quick", T=60)
    at_50 = []
    for _, _, series in frames:
        (lag, memory), (_, gradient) = series.values()
        at_50.append((memory[lag == 50][0], gradient[lag == 50][0]))
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(at_50, at_50[1:])), at_50


def test_the_update_gate_slider_follows_the_leaky_integrator_closed_form():
    for setting, _, series in update_gate_frames(zs=(0.5, 0.9, 0.99), T=40):
        z = float(setting.split("=")[1])
        (k, followed), (_, left) = series.values()
        np.testing.assert_allclose(followed, 1 - z ** k, atol=1e-12)
        np.testing.assert_allclose(left, z ** k)


def test_the_figure_loads_nothing_and_keeps_one_curve_per_series_in_every_frame():
    figure = SliderFigure(update_gate_frames(zs=(0.5, 0.9)), slider_label="z", xlabel="k",
                          ylabel="share", element_id="t")
    page = figure._repr_html_()
    assert not re.search(r"(src|href)\s*=|https?://|//cdn", page), "the figure loads something"
    assert page.count("<polyline") == 2
    assert '"points": [' in page and page.count('"setting"') == 2
