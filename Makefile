# Gated Recurrent Networks, Demystified: the course's commands.
#   make book   build the website into _build/html (creates .venv on first use)
#   make test   run every test (creates or reuses .venv)
#   make bench  speed benchmarks, printed as tables of ratios against torch.nn / plain nbgrader
#   make clean  remove build products (keeps .venv; `make distclean` removes it too)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers: one per core by default
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all venv book test test-slow bench clean distclean experiments grade

all: book

# The pinned environment, grnn_ref (editable) and the sandboxed grading kernel that
# nbgrader_config.py makes autograde use.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m grnn_ref.autograde install-kernel --sys-prefix
	@touch $@

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W --keep-going

# One BLAS/torch thread per pytest-xdist worker: the workers already fill the cores, and
# oversubscribed BLAS threads made single LSTM steps ~10x slower under load.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not slow" tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests

# Rerun every experiment of the course full size; tables and figures go to results/<name>/
experiments: $(STAMP)
	$(BIN)/python -m grnn_ref.experiments all

# Grade every submitted student of one assignment in parallel (sandboxed, verified, resumable)
ASSIGNMENT ?= ex01_rnn
grade: $(STAMP)
	$(BIN)/python -m grnn_ref.autograde $(ASSIGNMENT) --jobs $(JOBS)

bench: $(STAMP)
	$(BIN)/python -m grnn_ref.bench

# .grnn_grading_secret is kept on purpose: it fixes a course's hidden test cases.
clean:
	rm -rf _build .pytest_cache .hypothesis submitted autograded feedback gradebook.db .grnn_autograde
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
