# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run run-stack test lint bench compose-test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[tf,train,dev]'
	touch $(STAMP)

run: setup
	scripts/ensure_mariadb.sh
	$(PY) -m api

run-stack: setup
	scripts/ensure_mariadb.sh
	scripts/run_stack.sh

test: setup
	scripts/ensure_mariadb.sh
	scripts/ensure_browser.sh
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	scripts/ensure_mariadb.sh
	$(PY) -m bench

compose-test:
	scripts/compose_test.sh

clean:
	rm -rf $(VENV) .pytest_cache
