# The two commands a newcomer needs: `make run` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg libopus0

.PHONY: run test lint typecheck unit setup system-deps demo clean

## run: the offline demo without credentials; the real bot (embedded backends) with DISCORD_BOT_TOKEN set
run: setup
	@if [ -n "$$DISCORD_BOT_TOKEN" ]; then exec $(BIN)/musicbot local; \
	else echo "No DISCORD_BOT_TOKEN set: running the offline demo against a fake Discord."; \
	exec $(BIN)/musicbot demo; fi

## test: lint, type check and the whole test suite
test: setup lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

setup: system-deps $(STAMP)

# ffmpeg and libopus for audio; python3-venv on Debian images that lack it.
system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$(APT_PACKAGES)"; \
	ldconfig -p | grep -q libopus.so.0 || missing="$(APT_PACKAGES)"; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
