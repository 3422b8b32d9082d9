# The two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Tests run against real PostgreSQL and Redis (the machine's services unless overridden).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: install browser run test checks lint typecheck migrations-check pytest bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

# Browser tests drive Debian's chromium (a browser download is not possible here).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

run: install
	DEBUG=1 $(PY) manage.py serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache   # dependency direction (.importlinter)

typecheck: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/mypy .

migrations-check: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py makemigrations --check --dry-run

# One worker more than the cores: a test waits on PostgreSQL, Redis, a subprocess or a sleep
# for part of its time, and the extra worker fills that wait (docs/deploy.md, "Development").
# --dist worksteal: a worker that runs out of tests takes half of another's remaining ones (the
# suite's durations vary from milliseconds to half a minute); each starts with a contiguous
# share, so a module's fixtures and the browser mostly start once.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# PYTHONDONTWRITEBYTECODE (set in the Dockerfile and on some machines) is cleared for the run:
# the suite starts Python processes by the dozen (workers, servers, manage.py); without cached
# bytecode each compiles the project's modules again (~0.3 s of CPU a process) and each pytest
# process rewrites and compiles every test module.
pytest: install browser
	PYTHONDONTWRITEBYTECODE= DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

CHECKS := lint typecheck migrations-check

# The checks, side by side: each is single-threaded.
checks: install
	$(MAKE) --no-print-directory -j3 --output-sync=target $(CHECKS)

# The checks run beside the suite (its processes wait on the database and subprocesses for
# part of their time); lines are kept whole. A failed check still fails `make test`.
test: install
	$(MAKE) --no-print-directory -j4 --output-sync=line $(CHECKS) pytest

bench: install
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data staticfiles
