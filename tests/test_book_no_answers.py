"""The book does not print what the exercises grade before the student writes it.

A chapter teaches the equations and the derivation; the code of a graded function appears only on
the reference page, which the table of contents places after the exercises and which no page
before it links to. These tests read the sources (no build): every page under book/ other than the
reference page is searched for

- a literalinclude or include of a graded function's source (its :pyobject:, or the whole file or
  a range of lines of a file that holds one),
- an autodoc directive (autofunction, automodule, ...) of a graded function or its module,
- a code cell that prints source code (inspect.getsource, %psource, ??, reading a .py file),
- a copy of a line of a graded function's code pasted into the page.

The released exercise notebooks (exercises/*/*.ipynb) are nbgrader's output, checked by
test_site.py (no solution line reaches the site) and test_release_sync.py.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from site_fixtures import REPO, toc_docnames, toc_items

REFERENCE_PAGE = "book/reference-implementations"
EXERCISE_GLOB = "exercises/*/*"
EXERCISES_INDEX = "book/exercises/index"

#: Every graded function (the name its check in grnn_ref.grading has), with the reference code
#: that implements it or gives its answer: (source file, object as :pyobject: names it).
GRADED = {
    # ex01
    "rnn_step_forward": [("grnn_ref/rnn.py", "rnn_step_forward"), ("grnn_ref/rnn.py", "_step_forward")],
    "rnn_forward": [("grnn_ref/rnn.py", "rnn_forward")],
    # ex02
    "rnn_step_backward": [("grnn_ref/rnn.py", "rnn_step_backward"),
                          ("grnn_ref/rnn.py", "_step_backward")],
    "rnn_backward": [("grnn_ref/rnn.py", "rnn_backward")],
    "numerical_gradient": [("grnn_ref/gradcheck.py", "numerical_gradient"),
                           ("grnn_ref/gradcheck.py", "numerical_gradient_params")],
    # ex03
    "rnn_jacobian": [("grnn_ref/grading/reference.py", "rnn_jacobian"),
                     ("grnn_ref/experiments/jacobians.py", "rnn_step_jacobian_closed_form"),
                     ("grnn_ref/experiments/jacobians.py", "step_jacobian")],
    "jacobian_norms": [("grnn_ref/grading/reference.py", "jacobian_norms"),
                       ("grnn_ref/experiments/jacobians.py", "jacobian_products")],
    "gradient_bound": [("grnn_ref/grading/reference.py", "gradient_bound"),
                       ("grnn_ref/experiments/jacobians.py", "pascanu_bound")],
    "clip_gradients": [("grnn_ref/grading/reference.py", "clip_by_global_norm"),
                       ("grnn_ref/experiments/clipping.py", "clip_grad_norm_")],
    "ex03_decay_rate": [("grnn_ref/grading/reference.py", "ex03_decay_rate")],
    # ex04
    "lstm_step_forward": [("grnn_ref/lstm.py", "lstm_step_forward"),
                          ("grnn_ref/lstm.py", "_step_forward")],
    "lstm_forward": [("grnn_ref/lstm.py", "lstm_forward")],
    "lstm_step_backward": [("grnn_ref/lstm.py", "lstm_step_backward"),
                           ("grnn_ref/lstm.py", "_step_backward")],
    "lstm_backward": [("grnn_ref/lstm.py", "lstm_backward")],
    # ex05
    "gru_step_forward": [("grnn_ref/gru.py", "gru_step_forward"), ("grnn_ref/gru.py", "_step_forward")],
    "gru_forward": [("grnn_ref/gru.py", "gru_forward")],
    "gru_step_backward": [("grnn_ref/gru.py", "gru_step_backward"),
                          ("grnn_ref/gru.py", "_step_backward")],
    "gru_backward": [("grnn_ref/gru.py", "gru_backward")],
    # ex06: the LSTM cell as a torch module, and a model trained on the adding problem
    "torch_lstm_cell": [("grnn_ref/modules.py", "LSTM"), ("grnn_ref/modules.py", "_LSTMLayer"),
                        ("grnn_ref/modules.py", "_lstm_layer_autograd")],
    "adding_model": [("grnn_ref/experiments/training.py", "train"),
                     ("grnn_ref/experiments/training.py", "SequenceModel")],
    # ex07: the gate trace and the three numbers read off the trained LSTM
    "lstm_gate_trace": [("grnn_ref/lstm.py", "lstm_gates"),
                        ("grnn_ref/experiments/gates.py", "gate_trace")],
    "ex07_memory_unit": [("grnn_ref/grading/reference.py", "ex07_analysis")],
    "ex07_memory_correlation": [("grnn_ref/grading/reference.py", "ex07_analysis")],
    "ex07_input_gate_at_marker": [("grnn_ref/grading/reference.py", "ex07_analysis")],
    "ex07_time_constant": [("grnn_ref/grading/reference.py", "ex07_analysis")],
    # ex08: the output side of the character-level language model
    "softmax_cross_entropy": [("grnn_ref/language_model.py", "softmax_cross_entropy")],
    "output_backward": [("grnn_ref/language_model.py", "output_backward")],
    "sample_with_temperature": [("grnn_ref/language_model.py", "sample_with_temperature"),
                                ("grnn_ref/language_model.py", "softmax")],
    # ex09: the parallel scan and minGRU's forward
    "linear_scan": [("grnn_ref/mingru.py", "linear_scan"), ("grnn_ref/mingru.py", "_scan_doubling"),
                    ("grnn_ref/mingru.py", "_scan_blelloch"), ("grnn_ref/min_modules.py", "scan_linear")],
    "mingru_forward": [("grnn_ref/mingru.py", "mingru_forward")],
}

GRADED_OBJECTS = {obj for objects in GRADED.values() for obj in objects}
GRADED_FILES = {path for path, _ in GRADED_OBJECTS}
GRADED_MODULES = {path[:-3].replace("/", "."): path for path in GRADED_FILES}

#: Code that prints source code, in a code cell.
SHOWS_SOURCE = re.compile(
    r"getsource|getsourcelines|%psource|%pfile|%pycat|%load\b|\?\?|\bdis\.dis\b|__code__"
    r"|\.py['\"]|__file__")
#: A directive that includes a file: ```{literalinclude} path, :::{include} path, or reST's form.
INCLUDE = re.compile(r"^(?:[`:]{3,}\{(literalinclude|include)\}|\.\. (literalinclude|include)::)"
                     r"\s*(\S+)\s*$", re.MULTILINE)
AUTODOC = re.compile(r"(?:\{|\.\. )(auto(?:function|class|module|method|data|attribute))\}?:*"
                     r"\s*([\w.]+)", re.MULTILINE)
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
#: A line of graded code shorter than this says nothing about the function ("T, B, D = xs.shape").
MIN_LINE = 20


def book_pages() -> list[Path]:
    """Every page source under book/ (the site's pages besides the released notebooks)."""
    skip = {"_ext", "_static", "figures", "_build"}
    return sorted(p for p in (REPO / "book").rglob("*")
                  if p.suffix in (".md", ".ipynb") and not set(p.relative_to(REPO).parts) & skip)


def docname(path: Path) -> str:
    return path.relative_to(REPO).with_suffix("").as_posix()


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def object_lines(path: str, name: str) -> list[str]:
    """Normalised lines of code of an object's source: no docstring, comments or blank lines, and
    none shorter than MIN_LINE."""
    source = (REPO / path).read_text(encoding="utf-8")
    node = next((n for n in ast.walk(ast.parse(source))
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None)
    assert node is not None, f"{path} has no {name}: update GRADED in {Path(__file__).name}"
    docstrings = {line for n in ast.walk(node)
                  if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(n)
                  for line in range(n.body[0].lineno, n.body[0].end_lineno + 1)}
    out = []
    for number, line in enumerate(source.splitlines()[node.lineno:node.end_lineno], node.lineno + 1):
        code = normalised(line.split("#", 1)[0]).strip()
        if number in docstrings or code.startswith(("import ", "from ")):
            continue
        if len(code) >= MIN_LINE:
            out.append(code)
    return out


# ------------------------------------------------------------------ the searches


def include_leaks(text: str, base: Path) -> list[str]:
    """Include directives (base: the page's folder) that bring in graded code."""
    leaks = []
    for m in INCLUDE.finditer(text):
        target = (base / m.group(3)).resolve()
        if not target.is_relative_to(REPO):
            continue
        target = target.relative_to(REPO).as_posix()
        if target not in GRADED_FILES:
            continue
        options = dict(re.findall(r"^\s*:([\w-]+):\s*(.*?)\s*$",
                                  text[m.end():].split("\n\n", 1)[0], re.MULTILINE))
        obj = options.get("pyobject")
        if obj is None:
            leaks.append(f"{target} (the whole file, or a range of it, holds graded functions)")
        elif (target, obj.split(".")[0]) in GRADED_OBJECTS:
            leaks.append(f"{target} :pyobject: {obj}")
    return leaks


def autodoc_leaks(text: str) -> list[str]:
    leaks = []
    for kind, target in AUTODOC.findall(text):
        module, _, name = target.rpartition(".")
        if (kind == "automodule" and target in GRADED_MODULES) or (
                (GRADED_MODULES.get(module), name) in GRADED_OBJECTS):
            leaks.append(f"{kind} {target}")
    return leaks


def source_printing_cells(text: str) -> list[str]:
    return [m.group(0) for cell in CODE_CELL.findall(text) for m in [SHOWS_SOURCE.search(cell)] if m]


def copied_lines(text: str) -> list[str]:
    text = normalised(text)
    return sorted({f"{path}:{name}: {line!r}" for path, name in GRADED_OBJECTS
                   for line in object_lines(path, name) if line in text})


# ------------------------------------------------------------------ the list itself


def test_every_check_of_the_grading_package_is_listed():
    """A new graded function must be added to GRADED, so that the book is searched for it."""
    from grnn_ref.grading.cases import REGISTRY

    assert sorted(set(REGISTRY) - set(GRADED)) == []


def test_every_listed_reference_object_exists_and_has_code_to_look_for():
    for path, name in sorted(GRADED_OBJECTS):
        assert object_lines(path, name), f"{path}:{name} has no code line to look for"


def test_the_searches_find_each_way_of_printing_a_graded_function():
    """What the chapters used to do, and the other ways, are all caught."""
    book = REPO / "book"
    listing = "```{literalinclude} ../grnn_ref/rnn.py\n:language: python\n:pyobject: %s\n```\n"
    assert include_leaks(listing % "_step_backward", book) == [
        "grnn_ref/rnn.py :pyobject: _step_backward"]
    assert include_leaks(listing % "rnn_backward", book)
    assert not include_leaks(listing % "rnn_forward", book / "unrelated")   # another file
    assert include_leaks("```{literalinclude} ../grnn_ref/lstm.py\n:lines: 50-62\n```\n", book)
    assert include_leaks(".. literalinclude:: ../grnn_ref/gradcheck.py\n"
                         "   :pyobject: numerical_gradient\n", book)
    assert not include_leaks(listing.replace("rnn.py", "tasks.py") % "adding_problem", book)
    assert autodoc_leaks("```{autofunction} grnn_ref.gru.gru_step_backward\n```")
    assert autodoc_leaks(".. automodule:: grnn_ref.lstm\n")
    assert source_printing_cells("```{code-cell} ipython3\nimport inspect\n"
                                 "print(inspect.getsource(rnn_backward))\n```\n")
    assert source_printing_cells("```{code-cell} ipython3\nrnn_backward??\n```\n")
    pasted = "```python\n" + "\n".join(object_lines("grnn_ref/lstm.py", "_step_backward")) + "\n```"
    assert copied_lines(pasted)


def test_the_pages_are_found():
    names = {docname(p) for p in book_pages()}
    assert {"book/01-simple-rnn", "book/02-bptt", "book/04-lstm", REFERENCE_PAGE} <= names


# ------------------------------------------------------------------ the pages

PAGES = [p for p in book_pages() if docname(p) != REFERENCE_PAGE]


@pytest.mark.parametrize("page", PAGES, ids=docname)
def test_no_page_but_the_reference_includes_a_graded_function(page):
    leaks = include_leaks(page.read_text(encoding="utf-8"), page.parent)
    assert not leaks, f"{docname(page)} prints graded code: {leaks}"


@pytest.mark.parametrize("page", PAGES, ids=docname)
def test_no_page_but_the_reference_documents_a_graded_function_with_autodoc(page):
    leaks = autodoc_leaks(page.read_text(encoding="utf-8"))
    assert not leaks, f"{docname(page)} shows graded code through autodoc: {leaks}"


@pytest.mark.parametrize("page", PAGES, ids=docname)
def test_no_code_cell_prints_source_code(page):
    leaks = source_printing_cells(page.read_text(encoding="utf-8"))
    assert not leaks, f"{docname(page)} has a code cell that prints source code: {leaks}"


@pytest.mark.parametrize("page", PAGES, ids=docname)
def test_no_page_but_the_reference_holds_a_copy_of_a_graded_line(page):
    leaks = copied_lines(page.read_text(encoding="utf-8"))
    assert not leaks, f"{docname(page)} holds lines of graded code: {leaks}"


# ------------------------------------------------------------------ the reference page


def test_the_reference_page_comes_after_every_exercise_page_in_the_toc():
    items = toc_items()
    position = items.index(("file", REFERENCE_PAGE))
    assert ("glob", EXERCISE_GLOB) in items[:position]
    assert ("file", EXERCISES_INDEX) in items[:position]
    order = toc_docnames()
    here = order.index(REFERENCE_PAGE)
    exercises = [n for n in order if n.startswith("exercises/") or n == EXERCISES_INDEX]
    chapters = [n for n in order if re.fullmatch(r"book/\d\d-.*", n)]
    assert exercises and chapters
    assert max(order.index(n) for n in exercises + chapters) < here


def test_no_page_before_the_reference_page_links_to_it():
    """A reader meets it after the exercises, never through a link from a chapter."""
    order = toc_docnames()
    before = order[:order.index(REFERENCE_PAGE)]
    chapters = [docname(p) for p in book_pages() if re.fullmatch(r"book/\d\d-.*", docname(p))]
    name = REFERENCE_PAGE.rsplit("/", 1)[1]
    linking = [n for n in sorted(set(before) | set(chapters))
               if n.startswith("book/") and name in (REPO / f"{n}.md").read_text(encoding="utf-8")]
    assert not linking, f"pages before the reference page link to it: {linking}"


def test_the_reference_page_says_at_the_top_to_read_it_after_the_exercises():
    text = (REPO / f"{REFERENCE_PAGE}.md").read_text(encoding="utf-8")
    first_include = text.index("{literalinclude}")
    top = text[:first_include]
    # a warning box: {warning}, or an {admonition} with a title of its own and the warning class
    assert re.search(r"[:`]{3}\{(warning|attention|caution)\}", top) or re.search(
        r"[:`]{3}\{admonition\}[^\n]*\n:class: (warning|attention|caution)", top)
    assert "after you have done exercises" in normalised(top)
    assert "reference solutions of the graded functions" in normalised(top)
