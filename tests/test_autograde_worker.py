"""The parallel grader's per-worker set-up (grnn_ref.autograde.worker): a shared gradebook engine
that reads and writes the same rows as nbgrader's own, and the pre-convert hook left out of a
worker's configuration. Run in a subprocess: share_gradebook_engine patches nbgrader.api."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.nbgrader
# a new gradebook runs `alembic` (nbgrader), from this interpreter's bin directory
ENV = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
       + os.environ.get("PATH", "")}

SCRIPT = r"""
import os, sys
from nbgrader import api
from grnn_ref.autograde import worker
url = "sqlite:///" + os.path.join(sys.argv[1], "gradebook.db")
nbgraders_own = api.Gradebook.__init__
engines = worker.share_gradebook_engine()
with api.Gradebook(url) as gb:
    gb.add_student("ada")
    gb.add_assignment("ex01_rnn")
first = engines[url]
with api.Gradebook(url) as gb:          # a second session on the same engine sees the rows
    assert gb.find_student("ada").id == "ada"
    gb.add_student("bo")
assert engines[url] is first and len(engines) == 1
api.Gradebook.__init__ = nbgraders_own  # unpatched, as plain nbgrader: the same rows
with api.Gradebook(url) as gb:
    print(sorted(s.id for s in gb.students), [a.name for a in gb.assignments])
"""


def test_shared_gradebook_engine_writes_what_nbgrader_reads(tmp_path):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env=ENV)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "['ada', 'bo'] ['ex01_rnn']"


def test_skip_pre_convert_hook_removes_only_the_hook():
    from traitlets.config import Config

    from grnn_ref.autograde.worker import skip_pre_convert_hook

    def hook(**_):
        return None
    config = Config()
    config.Autograde.pre_convert_hook = hook
    config.Autograde.create_student = True
    assert skip_pre_convert_hook(config) == ["Autograde"]
    assert config.Autograde.pre_convert_hook is None
    assert config.Autograde.create_student is True
    assert skip_pre_convert_hook(Config()) == []
