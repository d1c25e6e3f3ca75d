# The README's two commands: `make demo` (the main job, on embedded defaults) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install up bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/smartcloudops demo

test: lint
	$(BIN)/python -m pytest

# The layers of docs/architecture.md, kept by import-linter (.importlinter).
lint: $(VENV)/.installed
	$(BIN)/lint-imports

up: $(VENV)/.installed
	$(BIN)/smartcloudops up

# The performance figures of issue #16, each against its same-run baseline (results in .bench/).
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .smartcloudops .pytest_cache .hypothesis
