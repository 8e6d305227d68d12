# The two commands of the README: `make run` and `make test`. Everything else is a helper.
# Every target that needs Python installs first, from the lock, into .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BIDLAKE_HOME ?= $(CURDIR)/data

.PHONY: install run test lint format pytest bench lock system-deps ui docs proto clean

install: $(STAMP)

# Idempotent: re-runs only when the lock or the project metadata changed.
# --no-deps + --require-hashes: exactly the locked set, nothing resolved at install time.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

run: install
	$(BIN)/bidlake run

test: install system-deps lint pytest

# Servers and tools the tests use for real (PostgreSQL, Redis, Chromium, wrk, Java).
system-deps:
	bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bidlake contract ingest ml bidder orchestration simulator warehouse
	@if [ -d dbt_project/models ]; then $(BIN)/sqlfluff lint dbt_project/models; fi

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Spark runs in a process of its own: pyspark starts its JVM with fork + preexec_fn, which
# can crash a process where other tests left native threads (DuckDB's) running.
# Locally, `.venv/bin/python -m pytest -m "not spark and not kafka"` skips the scale-out
# suites; CI always runs both.
pytest: install
	$(BIN)/python -m pytest -q -m "not spark"
	$(BIN)/python -m pytest -q -m spark

bench: install
	$(BIN)/python -m benchmarks

ui: install
	$(BIN)/bidlake ui

docs: install
	$(BIN)/bidlake docs

# Regenerate the committed protobuf code and the schema document from contract/events.proto.
proto: install
	$(BIN)/python -m contract.codegen

# Re-resolve every transitive version (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --extra scale --python-version 3.11 --generate-hashes --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dbt_project/target dbt_project/logs
