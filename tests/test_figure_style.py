"""The book's figures can be read without colour: every series a plot labels differs from the
others in line style or marker, not in hue alone (issue 12: LSTM and GRU were an orange/green
pair only), and the palette has no faint yellow."""

import matplotlib

matplotlib.use("Agg")

from grnn_ref.experiments import jacobians as J  # noqa: E402
from grnn_ref.experiments import report as R  # noqa: E402
from grnn_ref.experiments.gradient_flow import gradient_flow_experiment  # noqa: E402


def _shapes_of_labelled_lines(fig):
    """(panel, linestyle, marker) of every line with a legend entry."""
    return [
        (i, line.get_linestyle(), line.get_marker(), line.get_label())
        for i, ax in enumerate(fig.axes)
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    ]


def _assert_told_apart_without_colour(fig):
    shapes = _shapes_of_labelled_lines(fig)
    seen = {}
    for panel, style, marker, label in shapes:
        key = (panel, style, marker)
        assert key not in seen, f"{label!r} and {seen[key]!r} differ only by colour"
        seen[key] = label


def test_gradient_flow_curves_differ_by_more_than_hue():
    R.use_book_style()
    _assert_told_apart_without_colour(R.plot_gradient_flow(gradient_flow_experiment("quick")["curves"]))


def test_bound_curves_differ_by_more_than_hue():
    rows = J.bound_experiment(J.BOUND_SIGMAS, **J.BOUND_SIZES["quick"])
    _assert_told_apart_without_colour(R.plot_bound(rows))


def test_the_book_palette_has_no_yellow_and_gives_every_colour_its_own_line_style():
    import matplotlib as mpl

    R.use_book_style()
    cycle = list(mpl.rcParams["axes.prop_cycle"])
    assert len({entry["linestyle"] for entry in cycle}) == len(cycle)
    assert "#F0E442" not in {entry["color"].upper() for entry in cycle}
