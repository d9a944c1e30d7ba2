# Gated Recurrent Networks, Demystified: the course's commands.
#   make book   build the website into _build/html (creates .venv on first use)
#   make test   run every test (creates or reuses .venv; brings the system packages the tests drive)
#   make bench  speed benchmarks, printed as tables of ratios against torch.nn / plain nbgrader
#   make grade  grade a class (ASSIGNMENT=ex01_rnn JOBS=2)
#   make clean  remove build products (keeps .venv; `make distclean` removes it too)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp names a hash of what the venv was installed from, not a time: a fresh clone (whose
# files are all newer than an old stamp) does not reinstall, and a changed pin does.
REQ_HASH := $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
# pytest-xdist workers: one per core by default
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The Debian packages the tests and the grader drive, and the command each provides. This is the
# only place they are named (tests/test_setup.py checks it): chromium prints the book's PDF and
# drives the browser tests, bubblewrap is the grading sandbox, postgresql is the gradebook server
# that the distributed-grading test starts as an unprivileged cluster (its initdb/pg_ctl live in
# /usr/lib/postgresql/<version>/bin, off PATH; pg_ctlcluster, from the same package set, is on it).
SYSTEM_PACKAGES := chromium bubblewrap postgresql
SYSTEM_COMMANDS := chromium bwrap pg_ctlcluster
# Overridable so that the non-root path can be tested (tests/test_setup.py).
USER_ID ?= $(shell id -u)

.PHONY: all venv system book test test-slow bench clean distclean experiments grade

all: book

# The pinned environment, grnn_ref (editable) and the sandboxed grading kernel that
# nbgrader_config.py makes autograde use.
# requirements.txt is the whole environment: installed with --no-deps, checked by `pip check`.
# LEFT_OUT: packages it leaves out on purpose (see its header), removed from an older venv.
LEFT_OUT := rfc3987-syntax lark
$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.txt
	$(BIN)/python -m pip uninstall -qq --disable-pip-version-check -y $(LEFT_OUT)
	$(BIN)/python -m pip check --disable-pip-version-check
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m grnn_ref.autograde install-kernel --sys-prefix
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# System packages: installed with apt-get when run as root (CI, a fresh container); otherwise stop
# at once with the exact command to run.
system:
	@missing=""; set -- $(SYSTEM_COMMANDS); \
	for pkg in $(SYSTEM_PACKAGES); do \
	  command -v "$$1" >/dev/null 2>&1 || missing="$$missing $$pkg"; shift; \
	done; \
	missing="$${missing# }"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(USER_ID)" = 0 ]; then \
	  echo "Installing the Debian packages the tests need: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  log=$$(mktemp); \
	  if ! { apt-get update -qq && apt-get install -y -qq $$missing; } </dev/null >$$log 2>&1; then \
	    tail -n 40 $$log; echo "make: apt-get could not install: $$missing" >&2; exit 1; \
	  fi; \
	  rm -f $$log; echo "Installed: $$missing"; \
	else \
	  echo "make: the tests need the Debian packages: $$missing" >&2; \
	  echo "Install them once, then run make again:" >&2; \
	  echo "    sudo apt-get update && sudo apt-get install -y $$missing" >&2; \
	  exit 1; \
	fi

book: system $(STAMP)
	$(BIN)/jupyter-book build . -W --keep-going

# One BLAS/torch thread per pytest-xdist worker: the workers already fill the cores, and
# oversubscribed BLAS threads made single LSTM steps ~10x slower under load.
test: system $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --no-loadscope-reorder -m "not slow" tests

test-slow: system $(STAMP)
	$(BIN)/python -m pytest -m slow tests

# Rerun every experiment of the course full size; tables and figures go to results/<name>/
experiments: $(STAMP)
	$(BIN)/python -m grnn_ref.experiments all

# Grade every submitted student of one assignment in parallel (sandboxed, verified, resumable)
ASSIGNMENT ?= ex01_rnn
grade: system $(STAMP)
	$(BIN)/python -m grnn_ref.autograde $(ASSIGNMENT) --jobs $(JOBS)

bench: system $(STAMP)
	$(BIN)/python -m grnn_ref.bench

# .grnn_grading_secret is kept on purpose: it fixes a course's hidden test cases.
clean:
	rm -rf _build .pytest_cache .hypothesis submitted autograded feedback gradebook.db .grnn_autograde
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
