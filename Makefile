# Tarmac: `make run` starts the portal on its embedded defaults; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed
CHROMIUM := $(or $(CHROMIUM_PATH),/usr/bin/chromium)

.PHONY: help venv run test lint format bench bench-reference lock clean

help:
	@echo "make run    - set up and start Tarmac (web, worker, beat, Kubernetes sandbox) with demo data"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff, mypy and the migrations check"
	@echo "make bench  - seed data at scale and print latencies and query counts (SCENARIO=name)"
	@echo "make bench-reference - the registry API calls against MLflow's server, for comparison"

venv: $(STAMP)

# Installs exactly the versions pinned in requirements.lock.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

run: venv
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "Tarmac is starting at http://127.0.0.1:8000 (Ctrl-C stops web, worker, beat and the sandbox)"
	@echo
	$(VENV)/bin/honcho start -f Procfile

test: venv
	@if [ -x "$(CHROMIUM)" ]; then echo "Browser tests: using $(CHROMIUM)"; \
	else echo "Browser tests: SKIPPED — no Chromium at $(CHROMIUM) (apt-get install chromium, or set CHROMIUM_PATH)"; fi
	@echo "Database: $${DATABASE_URL:-SQLite (embedded default)}; broker: $${CELERY_BROKER_URL:-filesystem (embedded default)}"
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) -m bench $(if $(SCENARIO),--scenario $(SCENARIO),)

# The same registry calls against MLflow's server on this machine, for comparison
# (installs MLflow into var/bench-mlflow-venv on first use; see bench/reference/).
bench-reference: venv
	BENCH_REFERENCE=1 $(PY) -m bench --scenario registry.reference

# Re-pin after changing pyproject.toml's dependencies.
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^tarmac' > requirements.lock

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
