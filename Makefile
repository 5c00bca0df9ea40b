# The two commands a newcomer needs: `make run` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg libopus0

.PHONY: run test lint typecheck unit setup system-deps demo clean audit fuzz-long

## run: the offline demo without credentials; the real bot (embedded backends) with DISCORD_BOT_TOKEN set
run: setup
	@if [ -n "$$DISCORD_BOT_TOKEN" ]; then exec $(BIN)/musicbot local; \
	else echo "No DISCORD_BOT_TOKEN set: running the offline demo against a fake Discord."; \
	exec $(BIN)/musicbot demo; fi

## test: lint, type check and the whole test suite
test: setup lint typecheck audit
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

## audit: known vulnerabilities in the installed dependencies (pip-audit) and bandit on the code.
## B101 (assert, used for type narrowing) and B404 (importing subprocess: ffmpeg runs with an
## argv list, never a shell) are accepted; see docs/reliability.md.
audit: setup
	$(BIN)/python -m tests.security.pip_audit_gate
	$(BIN)/bandit -q -r shared interactions voice_worker fake_discord -s B101,B404

## fuzz-long: nightly-style: 100,000 generated inputs per fuzz target, plus the long fault variants
fuzz-long: setup
	FUZZ_EXAMPLES=100000 LONG_FAULTS=1 $(BIN)/pytest -q -p no:cacheprovider --timeout=0 \
	  tests/security tests/faults

## check-deploy: offline deployment checks (osls package, cfn-lint, hadolint, tests/deploy);
## needs Node.js >= 20 with npm. Tools are pinned in scripts/deploy-tools/ and kept in .tools/.
.PHONY: check-deploy
check-deploy: setup
	VENV_BIN=$(BIN) scripts/check_deploy.sh

## bench: every benchmark (streams per worker against a discord.py baseline, time to first
## audio, the ack path); writes bench/results/latest.json and streams.png (~30 min, 2 cores)
.PHONY: bench bench-quick
bench: setup $(BENCH_STAMP)
	$(BIN)/python bench/run_all.py

## bench-quick: the same JSON fields from a reduced run (a few minutes): latest-quick.json
bench-quick: setup $(BENCH_STAMP)
	$(BIN)/python bench/run_all.py --quick

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

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
