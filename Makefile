# Clearfee: the two front-door commands are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := portal

.PHONY: run test install lint bench translations clean-db help security-scan

help:
	@echo "make run    - install, migrate, seed demo data (first run) and serve http://127.0.0.1:5000"
	@echo "make test   - run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)"
	@echo "make lint   - ruff check"
	@echo "make bench  - pages under wrk, dashboard SQL plans, jobs (docs/benchmarks.md);"
	@echo "             BENCH_ARGS=\"--database-url postgresql://... --units 2000 --months 24\""
	@echo "make security-scan - sqlmap over every form and API parameter (needs Debian's sqlmap)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

PORT ?= 5000

run: export CLEARFEE_ENV ?= demo
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed --if-empty
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# One pytest-xdist worker per core (PYTEST_WORKERS=0 runs in one process, easier to debug).
PYTEST_WORKERS ?= auto

test: export CLEARFEE_ENV = test
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Not in CI (it takes a while); see docs/security.md for the last result.
security-scan: install
	@command -v sqlmap >/dev/null || { echo "sqlmap missing: apt-get install sqlmap"; exit 2; }
	$(BIN)/python scripts/security_scan.py $(SCAN_ARGS)

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations

clean-db:
	rm -f instance/clearfee.db
