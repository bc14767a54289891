# dealflow: `make run` serves a demo on http://127.0.0.1:8000 (PORT=N for another port),
# `make test` runs lint and the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The domain layer, type-checked with django-stubs.
DOMAIN_MODULES := src/dealflow/core/ids.py src/dealflow/core/errors.py \
	src/dealflow/core/metadata.py src/dealflow/core/validation.py src/dealflow/core/audit.py \
	src/dealflow/*/models.py src/dealflow/*/services.py

.PHONY: run test lint format bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "dealflow needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The port `make run` serves on and prints: `PORT=8765 make run` or `make run PORT=8765`.
PORT ?= 8000

run: install
	$(BIN)/dealflow migrate --noinput
	$(BIN)/dealflow demo --if-empty
	$(BIN)/dealflow bootstrap --port $(PORT)
	$(BIN)/dealflow serve --port $(PORT)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy $(DOMAIN_MODULES)

format: install-dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The suite runs on SQLite, then again on PostgreSQL when DATABASE_URL points at one.
test: lint
	env -u DATABASE_URL -u DEALFLOW_REQUIRE_POSTGRES $(BIN)/pytest
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "--- again on $${DATABASE_URL%%:*} (DATABASE_URL)"; \
		$(BIN)/pytest; \
	else \
		echo "--- DATABASE_URL not set: PostgreSQL run skipped (.ci/run makes it mandatory)"; \
	fi

bench: install-dev
	@for script in bench/*.py; do [ -e "$$script" ] || continue; echo "--- $$script"; $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
