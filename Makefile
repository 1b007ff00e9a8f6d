# Orchestration Studio. Two commands on a fresh machine: `make run`, `make test`.
#
#   make run     create .venv if needed, install, migrate, admin + API key + demo,
#                then serve web (gunicorn) + a Celery worker per queue (long, short);
#                a crashed worker is restarted; Ctrl-C stops them all
#   make test    install if needed (and Debian's chromium for the browser tests),
#                then ruff, ruff format --check, mypy, lint-imports,
#                makemigrations --check, pytest (the whole suite, with every
#                published Azure SDK sample run unchanged against the live stack:
#                tests/compat/test_published_samples.py), and the
#                data-layer unit tests once more on PostgreSQL
#   make lint    the static checks only (with lint-imports: the apps' layering and
#                no import cycles, pyproject.toml [tool.importlinter])
#   make bench   the engine benchmark and orchestration on CLINC150 (bench/README.md)
#   make bench-http  HTTP latency/throughput and training time through the API on
#                a local gunicorn + Celery + PostgreSQL + Redis stack
#   make clean   remove caches and build output (keeps .venv and var/)
#
# Variables: PORT (default 8000), STUDIO_VAR_DIR (default ./var), and every setting
# listed in README.md.

VENV := .venv
PY := $(VENV)/bin/python
# Reinstalled only when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-http clean install chromium

install: $(STAMP)

$(PY):
	@python=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,advanced]'
	@touch $@

run: $(STAMP)
	@exec scripts/run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	PYTHONPATH=. $(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

test: lint chromium
	$(VENV)/bin/pytest
	scripts/test-postgres

# The browser tests (tests/browser) drive Debian's chromium through Playwright. Install
# it when missing and we may (root, or passwordless sudo); otherwise those tests skip
# with the reason (and fail under STUDIO_REQUIRE_SERVICES=1).
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || \
		{ apt-get update && apt-get install -y chromium; }; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get install -y chromium || \
		{ sudo apt-get update && sudo apt-get install -y chromium; }; \
	else echo "chromium is missing and cannot be installed here (not root, no sudo):" \
		"browser tests will skip"; fi

bench: $(STAMP)
	$(PY) -m bench.engine
	$(PY) -m bench.orchestration

# Needs PostgreSQL and Redis (STUDIO_BENCH_POSTGRES_URL, STUDIO_BENCH_REDIS_URL).
bench-http: $(STAMP)
	$(PY) -m bench.http
	$(PY) -m bench.train_api

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
