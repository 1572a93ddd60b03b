# Two commands do all the set-up on a fresh machine (Python 3.11+ and make):
#   make run    create the virtual environment, install Seminar, start the bot (SQLite)
#   make test   create the virtual environment, install Seminar, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= $(if $(wildcard config.yaml),config.yaml,config.example.yaml)

.PHONY: run test explore lint check install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/seminar --config $(CONFIG) run

check: $(STAMP)
	$(BIN)/seminar --config $(CONFIG) check

test: $(STAMP)
	$(BIN)/python -m pytest

# Property tests with fresh random examples (many more of them) instead of the repeatable set.
explore: $(STAMP)
	SEMINAR_HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest tests --ignore=tests/integration

lint: $(STAMP)
	$(BIN)/ruff check bot storage tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
