# dealflow: `make run` serves a demo on http://127.0.0.1:8000 (PORT=N for another port),
# `make test` runs lint and the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The domain layer, type-checked with django-stubs.
DOMAIN_MODULES := src/dealflow/core/ids.py src/dealflow/core/errors.py \
	src/dealflow/core/metadata.py src/dealflow/core/validation.py src/dealflow/core/audit.py \
	src/dealflow/core/second_connection.py \
	src/dealflow/*/models.py src/dealflow/*/services.py

.PHONY: run test lint format bench install install-dev clean assets browser

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

# The suite runs on SQLite, then again on PostgreSQL: the one DATABASE_URL points at, or
# else a local one when it answers on 127.0.0.1:5432 (as LOCAL_POSTGRES_URL).
LOCAL_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/dealflow_test
# Jobs run in-process in the suite even in a shell that exports a broker (the worker test
# takes its Redis from DEALFLOW_TEST_REDIS_URL).
PYTEST := env -u REDIS_URL -u CELERY_BROKER_URL $(BIN)/pytest
test: lint browser
	env -u DATABASE_URL -u DEALFLOW_REQUIRE_POSTGRES $(PYTEST)
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "--- again on $${DATABASE_URL%%:*} (DATABASE_URL)"; \
		$(PYTEST); \
	elif command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then \
		echo "--- again on the local PostgreSQL ($(LOCAL_POSTGRES_URL))"; \
		DATABASE_URL=$(LOCAL_POSTGRES_URL) $(PYTEST); \
	else \
		echo "--- DATABASE_URL not set and no PostgreSQL answers on 127.0.0.1:5432: PostgreSQL run skipped (.ci/run makes it mandatory)"; \
	fi

# The browser tests' Chromium (tests/e2e): Debian's when installed (.ci/run installs it),
# else Playwright's own, downloaded once; if neither can be had the browser tests fail.
browser: install-dev
	@[ -x /usr/bin/chromium ] || $(BIN)/playwright install chromium

# Mutation testing of the access rules and the lead and sales services (docs/testing.md):
# mutmut on SQLite, MUTATION_JOBS workers at low priority; fails under MUTATION_MIN percent.
MUTATION_JOBS ?= 2
MUTATION_MIN ?= 95
.PHONY: mutation
mutation: install-dev
	rm -rf mutants
	env -u DATABASE_URL -u DEALFLOW_REQUIRE_POSTGRES \
		DEALFLOW_TEST_DB_TEMPLATE=$(CURDIR)/mutants/var/test-template.sqlite3 \
		nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(BIN)/mutmut results
	$(BIN)/mutmut export-cicd-stats
	@$(BIN)/python -c 'import json, sys; s = json.load(open("mutants/mutmut-cicd-stats.json")); \
		tried = s["total"] - s["skipped"]; score = 100 * (s["killed"] + s["timeout"]) / tried; \
		print(f"mutation score: {score:.1f}% ({s}); wanted: $(MUTATION_MIN)%"); \
		sys.exit(score < $(MUTATION_MIN))'

bench: install-dev
	@for script in bench/*.py; do [ -e "$$script" ] || continue; \
		[ "$$script" = bench/screenshots.py ] && continue; \
		echo "--- $$script"; $(BIN)/python "$$script" || exit 1; done

# The pages' screenshots in docs/images/ (the demo data in a scratch folder, Chromium).
.PHONY: screenshots
screenshots: install-dev browser
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

# Front-end libraries (package.json, pinned by package-lock.json) copied from the npm registry
# into web/static/vendor/; the copies are committed so running dealflow needs no Node.
VENDOR := src/dealflow/web/static/vendor
assets:
	npm ci --no-audit --no-fund
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp node_modules/@tabler/core/dist/css/tabler.min.css $(VENDOR)/
	cp node_modules/@tabler/core/dist/js/tabler.min.js $(VENDOR)/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/sortablejs/Sortable.min.js $(VENDOR)/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp node_modules/htmx.org/LICENSE $(VENDOR)/LICENSE.htmx
	cp node_modules/sortablejs/LICENSE $(VENDOR)/LICENSE.sortablejs
	cp node_modules/echarts/LICENSE $(VENDOR)/LICENSE.echarts
	sed -i -e '/sourceMappingURL/d' $(VENDOR)/*.js $(VENDOR)/*.css
