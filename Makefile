# The course's commands. `make lab` opens the course; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# pip warns once per package about this machine's optional local index folders; hide just that noise
QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
RECBOLE := recbole==1.2.1
STAMP := $(VENV)/.installed
PORT  ?= 8888

.PHONY: lab test install check-sync check-outputs nbtest pytest bench results outputs html lock clean-venv
NB ?=

## install: create .venv (if missing) and install the pinned packages and lessonlib
install: $(STAMP)

$(STAMP): requirements.lock settings.ini setup.py
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock $(QUIET)
	$(PY) -m pip install --quiet --no-deps $(RECBOLE) $(QUIET)
	$(PY) -m pip install --quiet --no-deps -e . $(QUIET)
	@touch $(STAMP)

## lab: install, then serve the course (nbs/) in JupyterLab and print its URL
lab: install
	@opts="--ServerApp.root_dir=nbs --ip=127.0.0.1 --port=$(PORT)"; \
	if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ "$$(uname)" != Darwin ]; then opts="$$opts --no-browser"; fi; \
	if [ "$$(id -u)" = 0 ]; then opts="$$opts --allow-root"; fi; \
	echo "Starting JupyterLab on the course; open the http://127.0.0.1:$(PORT)/lab?token=... URL printed below."; \
	exec $(BIN)/jupyter lab $$opts

## test: install, check notebooks are clean, exported and carry fresh outputs, run every notebook, run pytest
test: install check-sync check-outputs nbtest pytest

check-sync: install
	@$(PY) .ci/check_sync.py

## check-outputs: committed outputs present, error-free, fresh, and every number the prose quotes printed (NB=... for one)
check-outputs: install
	@$(PY) .ci/check_outputs.py $(NB)

nbtest: install
	$(BIN)/nbdev_test --n_workers 1 --timing

pytest: install
	$(BIN)/python -m pytest tests

## bench: run the speed and quality benchmarks; they write benchmarks/RESULTS.md
bench: install
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

## outputs: run every cell of the notebooks (NB=... for some) in a real kernel and commit-ready outputs; Run All times
outputs: install
	$(PY) .ci/outputs.py $(NB)

## results: every lesson's headline experiment, fresh notebook outputs and timings, then the README's lesson table
results: bench outputs
	$(PY) -m pytest -q -m browser tests/test_browser.py
	$(PY) benchmarks/browser_results.py
	$(PY) benchmarks/timing.py
	$(PY) benchmarks/update_readme.py

## html: execute the notebooks and write a static HTML copy of the course to _html/ (index.html first)
html: install
	$(PY) .ci/build_html.py

## lock: resolve requirements.in into requirements.lock in a scratch venv, keeping the current pins (UPGRADE=1: newest)
lock:
	rm -rf /tmp/lessonlib-lock && python3 -m venv /tmp/lessonlib-lock
	/tmp/lessonlib-lock/bin/pip install --quiet -r requirements.in $(if $(UPGRADE),,-c requirements.lock) $(QUIET)
	( echo "# Generated from requirements.in by 'make lock'; do not edit by hand."; \
	  echo "# recbole is installed separately with --no-deps (only its bundled MovieLens files are used)."; \
	  /tmp/lessonlib-lock/bin/pip freeze --all --exclude pip | sed 's/^torch==\(.*\)+cpu/torch==\1/' ) > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock

clean-venv:
	rm -rf $(VENV)
