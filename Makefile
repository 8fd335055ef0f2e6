# Two commands for a fresh machine with python3, make and git: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: serve test test-unit test-integration test-e2e setup migrate demo bench clean scale-out-smoke failure-injection

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(PY) -m services.cli migrate

demo: migrate
	$(PY) -m services.cli demo

## serve: set up, migrate the SQLite file database, load profiles and demo data, create the transparency
## log's signing key (var/log-signing-key.pem) if missing, serve on 127.0.0.1:8000
serve: demo
	$(PY) -m services.cli keygen
	$(PY) -m services.cli serve --host 127.0.0.1 --port 8000

## test: set up and run the whole suite (SQLite; DATABASE_URL=postgresql://… runs the DB tests on PostgreSQL)
test: setup
	$(PY) -m pytest -q -n 2 tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q tests/integration

test-e2e: setup
	$(PY) -m pytest -q tests/e2e

## bench: the benchmark suite (BENCH_SCALE=small|full; PostgreSQL when it answers) -> bench/results/suite-<db>-<date>.md
BENCH_SCALE ?= small
bench: setup
	$(PY) -m pip install --quiet -e ".[test,bench]"
	BENCH_SCALE=$(BENCH_SCALE) $(PY) bench/suite.py --scale $(BENCH_SCALE)

clean:
	rm -rf $(VENV) var .pytest_cache

## scale-out-smoke: the compose topology as processes (fresh PostgreSQL databases at 127.0.0.1:5432 or
## PG_ADMIN_URL, a Prefect server, the pool, the deployments, the worker, the API with two workers); a
## registration through expert review and its publicity timer over HTTP; torn down (bench/scale_out_smoke.py)
scale-out-smoke: setup
	PYTHONPATH=. $(PY) bench/scale_out_smoke.py

## failure-injection: the same topology plus a second worker; the hand-off's worker killed mid-sweep (its
## runs CRASHED, an incident naming them, timers resumed and fired once), Prefect stopped 30 s (/readyz 503,
## commands commit, delivered after), workers refused without a usable database (bench/recovery.py)
failure-injection: setup
	PYTHONPATH=. $(PY) bench/recovery.py
