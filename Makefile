# Two commands do all the set-up on a fresh machine (Python 3.11+ and make):
#   make run    create the virtual environment, install Seminar, start the bot (SQLite)
#   make test   create the virtual environment, install Seminar, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= $(if $(wildcard config.yaml),config.yaml,config.example.yaml)

# Fonts the charts draw students' names with, in every script (Debian and Ubuntu packages).
FONTS := fonts-noto-core fonts-noto-cjk fonts-symbola

.PHONY: run test init explore lint check install fonts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) fonts

# Installs the chart fonts where it can (root on Debian or Ubuntu); otherwise says how.
fonts:
	@command -v dpkg-query >/dev/null || exit 0; missing=""; \
	for p in $(FONTS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing the fonts charts draw names with:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Charts draw names in every script once these fonts are installed: sudo apt-get install$$missing"; fi

run: $(STAMP) fonts
	$(BIN)/seminar --config $(CONFIG) run

# Writes config.yaml by asking Discord and you (needs DISCORD_TOKEN in the environment).
init: $(STAMP)
	$(BIN)/seminar init

check: $(STAMP)
	$(BIN)/seminar --config $(CONFIG) check

test: $(STAMP) fonts
	$(BIN)/python -m pytest

# Property tests with fresh random examples (many more of them) instead of the repeatable set.
explore: $(STAMP)
	SEMINAR_HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest tests --ignore=tests/integration

lint: $(STAMP)
	$(BIN)/ruff check bot storage tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
