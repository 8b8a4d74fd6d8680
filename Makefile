# The README's commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := backend
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 5000
# Links and QR codes point at the address served, unless PUBLIC_BASE_URL says otherwise.
DEMO_URL = $(or $(PUBLIC_BASE_URL),http://$(DEMO_HOST):$(DEMO_PORT))

.PHONY: demo test lint bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/flask db upgrade
	PUBLIC_BASE_URL=$(DEMO_URL) $(BIN)/flask demo seed
	PUBLIC_BASE_URL=$(DEMO_URL) $(BIN)/flask demo serve --host $(DEMO_HOST) --port $(DEMO_PORT)

test: install-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install-dev
	@command -v wrk >/dev/null || { echo "installing wrk (Debian) for the submission benchmark"; \
		apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m tests.perf $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
