"""Hostile submissions for ex01_rnn: cheating tricks and broken notebooks, each with its exact score.

Every entry plants code into the released ex01_rnn notebook (its two solution cells
`rnn_step_forward` and `rnn_forward`, extra cells, edited or deleted cells) or writes a broken file,
and states the score each test cell must get: test_rnn_step_forward and test_rnn_forward are worth
5 points each, and each runs the visible cases and then the hidden ones.

The rule: a trick never scores more than the same code would without it. So tricks are
mostly planted on a wrong implementation (no tanh) or on none, and must score 0 where that code
scores 0; kernel-killing tricks sit in rnn_forward after a correct rnn_step_forward, whose 5 points
must survive. `expected[cell] is None` means nbgrader could not grade the notebook at all (it keeps
the cell for manual grading, score 0) and the command must report the student as failed with a reason.
"""
import json
import textwrap
from dataclasses import dataclass, field

STEP, FWD = "rnn_step_forward", "rnn_forward"
T_STEP, T_FWD = "test_rnn_step_forward", "test_rnn_forward"
ALL_ZERO = {T_STEP: 0.0, T_FWD: 0.0}
STEP_ONLY = {T_STEP: 5.0, T_FWD: 0.0}
FULL = {T_STEP: 5.0, T_FWD: 5.0}


@dataclass
class Trick:
    name: str
    covers: str                 # what it tries, in words (named when its score is wrong)
    expected: dict              # test cell -> score (None: not gradable, 0 points)
    step: str = "correct"       # "correct", "buggy", "blank" or code
    forward: str = "correct"
    extra_before_tests: list = field(default_factory=list)  # cells inserted after the setup cell
    edit: object = None         # fn(nb) -> nb for structural changes
    raw: str = None             # the file's raw text instead of a notebook
    filename: str = None        # submit under another name
    slow: bool = False


def code(s):
    return textwrap.dedent(s).strip("\n")


FALLBACK_RAISE = "raise RuntimeError('trick failed')"


def _edit_tests(nb):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade"):
            c.source = "print('all tests pass')"
    return nb


def _delete_tests(nb):
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return nb


def _delete_all(nb):
    nb.cells = []
    return nb


def _only_solutions(nb):
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    return nb


def tricks(repo, course, lookup):
    """The corpus. repo/course: paths the tricks try to read; lookup: visible-case answers."""
    return [
        Trick("correct", "control: a correct submission", FULL),
        Trick("buggy", "control: the same wrong code without any trick (no tanh)", ALL_ZERO,
              step="buggy"),
        Trick("blank", "control: the release as is", ALL_ZERO, step="blank", forward="blank"),
        # -------- 1. calling or re-exporting the reference / torch.nn
        Trick("reference_import", "re-exports grnn_ref's reference", ALL_ZERO,
              step="from grnn_ref import rnn_step_forward",
              forward="from grnn_ref import rnn_forward"),
        Trick("reference_modules", "calls grnn_ref.rnn / grading.reference via importlib",
              ALL_ZERO, step=code("""
                  import importlib
                  for _m in ("grnn_ref.rnn", "grnn_ref.grading.reference", "grnn_ref.grading.feedback"):
                      try:
                          importlib.import_module(_m)
                      except ImportError:
                          pass
                  from grnn_ref.rnn import rnn_step_forward
                  """), forward="from grnn_ref.rnn import rnn_forward"),
        Trick("reference_from_disk", "loads the reference's source file from the repository",
              ALL_ZERO, step=code(f"""
                  import glob
                  _src = None
                  for _p in [{repo + '/grnn_ref/rnn.py'!r}] + glob.glob('/*/*/grnn_ref/rnn.py'):
                      try:
                          _src = open(_p).read()
                          break
                      except OSError:
                          pass
                  if _src is None:
                      {FALLBACK_RAISE}
                  exec(_src)
                  """), forward="correct"),
        Trick("torch_nn_rnn", "uses torch.nn's RNN cell in a numpy exercise", ALL_ZERO,
              step=code("""
                  import torch
                  def rnn_step_forward(x, h_prev, p):
                      cell = torch.nn.RNNCell(x.shape[1], h_prev.shape[1]).double()
                      cell.load_state_dict({"weight_ih": torch.tensor(p.W_ih), "weight_hh": torch.tensor(p.W_hh),
                                            "bias_ih": torch.tensor(p.b_ih), "bias_hh": torch.tensor(p.b_hh)})
                      return cell(torch.tensor(x), torch.tensor(h_prev)).detach().numpy(), None
                  """), forward="correct"),
        # -------- 1. patching numpy, builtins, grnn_ref and its checks
        Trick("patch_numpy_compare", "makes numpy's comparisons always succeed", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import numpy as np
                  np.allclose = lambda *a, **k: True
                  np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
                  np.array_equal = lambda *a, **k: True
                  np.testing.assert_allclose = lambda *a, **k: None
                  np.testing.assert_array_almost_equal = lambda *a, **k: None
                  try:
                      np.ndarray.__eq__ = lambda self, other: True
                  except TypeError:
                      pass
                  """)]),
        Trick("patch_builtins", "replaces builtins used by comparisons", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import builtins
                  builtins.abs = lambda x: 0
                  builtins.max = lambda *a, **k: 0
                  builtins.AssertionError = type("AssertionError", (Exception,), {})
                  builtins.isinstance = lambda obj, cls: True
                  """)]),
        Trick("patch_checks", "replaces grnn_ref.grading's checks with no-ops", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import grnn_ref.grading as G
                  import grnn_ref.grading.checks as C
                  C.run_check = lambda *a, **k: 0
                  G.check_rnn_step_forward = G.check_rnn_forward = lambda *a, **k: None
                  check_rnn_step_forward = check_rnn_forward = lambda *a, **k: None
                  """)]),
        Trick("patch_compare", "makes the kernel-side comparison accept everything", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import sys
                  import grnn_ref.grading.compare as cmp
                  cmp.compare_array.__code__ = (lambda name, student, reference, rtol, input_dtype=None:
                                                cmp.OutputResult(name, ())).__code__
                  cmp.RTOL.update(float64=1e300, float32=1e300)
                  """)]),
        Trick("forge_records", "emits its own result records (zeros, duplicates)", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import numpy as np
                  import grnn_ref.grading.record as R
                  _emit = R.emit
                  def emit(rec):
                      _emit(rec)
                      fake = R.make_record(rec["check"], rec["case"],
                                           {k: np.zeros(v["shape"]) for k, v in rec["outputs"].items()})
                      _emit(fake)
                  R.emit = emit
                  """)]),
        Trick("fake_package", "shadows grnn_ref.grading with a package of its own in /tmp",
              ALL_ZERO, step="buggy", extra_before_tests=[code("""
                  import os, sys, importlib
                  os.makedirs('/tmp/fake/grnn_ref/grading', exist_ok=True)
                  open('/tmp/fake/grnn_ref/__init__.py', 'w').write('')
                  open('/tmp/fake/grnn_ref/grading/__init__.py', 'w').write(
                      'def check_rnn_step_forward(*a, **k): pass\\ncheck_rnn_forward = check_rnn_step_forward\\n')
                  sys.path.insert(0, '/tmp/fake')
                  for m in [m for m in sys.modules if m.startswith('grnn_ref')]:
                      del sys.modules[m]
                  from grnn_ref.grading import check_rnn_step_forward, check_rnn_forward
                  """)]),
        # -------- 1. hiding errors
        Trick("hide_showtraceback", "overrides IPython's traceback display and sys.excepthook",
              ALL_ZERO, step="buggy", extra_before_tests=[code("""
                  import sys
                  ip = get_ipython()
                  ip.showtraceback = lambda *a, **k: None
                  ip._showtraceback = lambda *a, **k: None
                  ip.showsyntaxerror = lambda *a, **k: None
                  sys.excepthook = lambda *a: None
                  """)]),
        Trick("hide_custom_exc", "swallows every exception with set_custom_exc", ALL_ZERO,
              step="buggy", extra_before_tests=[
                  "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"]),
        Trick("global_try_except", "wraps every later cell in try/except (input transformer)",
              ALL_ZERO, step="buggy", extra_before_tests=[code("""
                  def _wrap(lines):
                      return ["try:\\n"] + ["    " + l for l in lines] + ["\\nexcept BaseException:\\n    pass\\n"]
                  get_ipython().input_transformers_post.append(_wrap)
                  """)]),
        Trick("ast_drop_checks", "an AST transformer that deletes the check calls", ALL_ZERO,
              step="buggy", extra_before_tests=[code("""
                  import ast
                  class _Drop(ast.NodeTransformer):
                      def visit_Call(self, node):
                          if getattr(node.func, "id", "").startswith("check_"):
                              return ast.Constant(None)
                          return self.generic_visit(node)
                  get_ipython().ast_transformers.append(_Drop())
                  """)]),
        Trick("sys_exit_in_test", "sys.exit() when the check calls the function", ALL_ZERO,
              step=code("""
                  import sys
                  def rnn_step_forward(x, h_prev, p):
                      sys.exit(0)
                  """)),
        Trick("os_exit_in_test", "os._exit() in rnn_forward (kills the kernel)", STEP_ONLY,
              forward=code("""
                  import os
                  def rnn_forward(xs, h0, p):
                      os._exit(0)
                  """)),
        # -------- 1. editing or deleting test cells
        Trick("edited_tests", "replaces the test cells' code", ALL_ZERO, step="buggy",
              edit=_edit_tests),
        Trick("edited_tests_correct", "edited test cells are restored (no loss either)", FULL,
              edit=_edit_tests),
        Trick("deleted_tests", "deletes the test cells", ALL_ZERO, step="buggy",
              edit=_delete_tests),
        # -------- 1. reading instructor files
        Trick("read_instructor_files", "reads solutions, source, gradebook and secret from disk",
              ALL_ZERO, step=code(f"""
                  import json, glob, os
                  _found = None
                  _cands = [{course + '/solutions/ex01_rnn/ex01_rnn.ipynb'!r},
                            {repo + '/solutions/ex01_rnn/ex01_rnn.ipynb'!r}]
                  _cands += glob.glob('/*/*/solutions/ex01_rnn/*.ipynb') + glob.glob('/tmp/*/*/solutions/*/*.ipynb')
                  for _p in _cands:
                      try:
                          _found = json.load(open(_p))
                          break
                      except OSError:
                          pass
                  for _p in [{course + '/gradebook.db'!r}, {course + '/.grnn_grading_secret'!r}]:
                      try:
                          open(_p, 'rb').read()
                          _found = _found or 'leak'
                      except OSError:
                          pass
                  if not isinstance(_found, dict):
                      {FALLBACK_RAISE}
                  for _c in _found['cells']:
                      if _c['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(_c['source']):
                          exec(''.join(_c['source']))
                  """)),
        Trick("network", "downloads an answer over the network", ALL_ZERO, step=code(f"""
                  import urllib.request
                  try:
                      exec(urllib.request.urlopen('https://pypi.org/simple/numpy/', timeout=5).read()[:0])
                  except Exception:
                      {FALLBACK_RAISE}
                  """)),
        # -------- 1. answering only the visible cases
        Trick("lookup_table", "answers the visible cases from a table, zeros otherwise", ALL_ZERO,
              step=code(f"""
                  import numpy as np
                  _TABLE = {json.dumps(lookup['rnn_step_forward'])}
                  def rnn_step_forward(x, h_prev, p):
                      key = repr(np.round(x.ravel()[:3].astype(float), 6).tolist())
                      if key in _TABLE:
                          return np.array(_TABLE[key], dtype=x.dtype), None
                      return np.zeros((x.shape[0], h_prev.shape[1]), x.dtype), None
                  """),
              forward=code(f"""
                  _TABLE_F = {json.dumps(lookup['rnn_forward'])}
                  def rnn_forward(xs, h0, p):
                      key = repr(np.round(xs.ravel()[:3].astype(float), 6).tolist())
                      if key in _TABLE_F:
                          return np.array(_TABLE_F[key], dtype=xs.dtype), None
                      return np.zeros(xs.shape[:2] + (h0.shape[1],), xs.dtype), None
                  """)),
        # -------- 2. limits
        # Waits in its loop rather than spinning: the grader's timeout and interrupt are the same,
        # and the four cells that call it would otherwise burn 4 x the cell timeout of CPU in
        # every test run (the trick below spins, and is stopped after one cell).
        Trick("infinite_loop", "loops forever in the function under test", ALL_ZERO,
              step=code("""
                  import time
                  def rnn_step_forward(x, h_prev, p):
                      while True:
                          time.sleep(0.01)
                  """)),
        Trick("loop_ignoring_interrupt", "loops forever and ignores the interrupt", STEP_ONLY,
              forward=code("""
                  import signal
                  def rnn_forward(xs, h0, p):
                      signal.signal(signal.SIGINT, signal.SIG_IGN)
                      while True:
                          pass
                  """)),
        Trick("memory_bomb", "allocates memory until it runs out", STEP_ONLY,
              forward=code("""
                  import numpy as np
                  def rnn_forward(xs, h0, p):
                      hog = []
                      while True:
                          hog.append(np.ones(2 ** 24))
                  """)),
        Trick("segfault", "crashes the interpreter through ctypes", STEP_ONLY,
              forward=code("""
                  import ctypes
                  def rnn_forward(xs, h0, p):
                      ctypes.string_at(0)
                  """)),
        Trick("output_flood", "prints tens of megabytes", FULL, extra_before_tests=[code("""
                  for _i in range(300):
                      print('x' * 100_000)
                  """)]),
        Trick("invalid_json", "the file is not valid JSON", {T_STEP: None, T_FWD: None},
              raw='{"cells": [{"cell_type": "code", "source": '),
        Trick("renamed", "the notebook was renamed", {T_STEP: None, T_FWD: None},
              filename="my_ex01_rnn.ipynb"),
        Trick("lost_cells", "every cell was deleted", ALL_ZERO, edit=_delete_all),
        Trick("only_solution_cells", "everything but the solutions was deleted (restored)",
              FULL, edit=_only_solutions),
    ]


def visible_lookup():
    """Answers of the visible cases (computed with the reference), keyed by the first inputs."""
    import numpy as np

    from grnn_ref.grading import cases
    out = {}
    for name, xname, oname in (("rnn_step_forward", "x", "h_next"), ("rnn_forward", "xs", "hs")):
        check, table = cases.get_check(name), {}
        for case_id in check.case_ids():
            inputs = check.make_inputs(case_id)
            key = repr(np.round(inputs[xname].ravel()[:3].astype(float), 6).tolist())
            table[key] = check.reference(inputs)[oname].tolist()
        out[name] = table
    return out


def build(course, repo, assignment="ex01_rnn", names=None):
    """Write the corpus as submissions (student id = trick name). Returns {name: Trick}."""
    import nbformat

    from grnn_ref.autograde import classroom
    release = classroom.read_release(course, assignment)
    sols = classroom.solution_cells(course, assignment)
    variants = {"correct": sols, "buggy": {k: classroom.buggy_code(v) for k, v in sols.items()},
                "blank": {}}
    out = {}
    for t in tricks(repo, course, visible_lookup()):
        if names and t.name not in names:
            continue
        out[t.name] = t
        if t.raw is not None:
            classroom.submit(course, assignment, t.name, t.raw)
            continue
        code_by_id = {}
        for cell, how in ((STEP, t.step), (FWD, t.forward)):
            code_by_id[cell] = variants[how].get(cell) if how in variants else how
            if code_by_id[cell] is None:
                del code_by_id[cell]
        nb = classroom.filled(release, code_by_id)
        if t.extra_before_tests:
            at = 1 + next(i for i, c in enumerate(nb.cells) if classroom.cell_id(c) == STEP)
            for k, src in enumerate(t.extra_before_tests):
                nb.cells.insert(at + k, nbformat.v4.new_code_cell(src))
        if t.edit is not None:
            nb = t.edit(nb)
        classroom.submit(course, assignment, t.name, nb, name=t.filename)
    return out
