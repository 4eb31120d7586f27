# tradeguard: the two commands a newcomer needs are `make run` and `make test`.
# Both create .venv and install everything on first use; later uses skip the install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test flake conformance lint fmt bench chaos sim replay clean setup

# `make test` spreads tests over TEST_WORKERS pytest-xdist workers: two per core, since many
# tests spend most of their time waiting on a broker's (simulated) reply lag or a subprocess;
# the tests of one browser file stay on one worker through their xdist_group.
TEST_WORKERS ?= $(shell echo $$((2 * $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2))))
TEST_PARALLEL := -n $(TEST_WORKERS) --dist loadgroup
# `make flake`: the suite FLAKE_RUNS times, random order, a busy loop on every core.
FLAKE_RUNS ?= 10

setup: $(STAMP)

# First use: about two minutes; pip shows each package as it goes.
$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (first use, or pyproject.toml changed: ~2 min)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	@touch $(STAMP)
	@echo "$(VENV) ready"

# Ctrl+C: with a terminal, `set -m` runs tradeguard as a job of its own that the terminal
# hands Ctrl+C to, so only tradeguard gets the SIGINT (make would otherwise get it too and
# answer 130 whatever tradeguard did). tradeguard shuts down cleanly and exits 0; so does make.
run: $(STAMP)
	@if [ -t 0 ]; then set -m; fi; $(BIN)/tradeguard run

test: $(STAMP)
	$(BIN)/python -m pytest $(TEST_PARALLEL) $(PYTEST_ARGS)

flake: $(STAMP)
	$(BIN)/python -m tests.flake --runs $(FLAKE_RUNS) -- $(TEST_PARALLEL) $(PYTEST_ARGS)

# Against the real OpenAlgo server (the test-peer kit; docs/openalgo.md): needs Python 3.12.
conformance: $(STAMP)
	$(BIN)/python -m pytest -m conformance tests/conformance $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The long chaos campaign: CHAOS_CYCLES kill -9 cycles on SQLite and on PostgreSQL (which must
# be reachable: TRADEGUARD_TEST_POSTGRES_URL), a summary table, details in chaos-results.json.
CHAOS_CYCLES ?= 200
CHAOS_SEED ?= $(shell date +%s)

chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --cycles $(CHAOS_CYCLES) --seed $(CHAOS_SEED) \
		--database sqlite --database postgresql --json chaos-results.json

replay: $(STAMP)
	$(BIN)/tradeguard replay examples/ticks.csv --config examples/strategies.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
