# Orchestration Studio. Two commands on a fresh machine: `make run`, `make test`.
#
#   make run     create .venv if needed, install, migrate, admin + API key + demo,
#                then serve web (gunicorn) + one Celery worker; Ctrl-C stops both
#   make test    install if needed, then ruff, ruff format --check, mypy,
#                makemigrations --check, pytest (the whole suite), and the
#                data-layer unit tests once more on PostgreSQL
#   make lint    the static checks only
#   make bench   the engine benchmark
#   make clean   remove caches and build output (keeps .venv and var/)
#
# Variables: PORT (default 8000), STUDIO_VAR_DIR (default ./var), and every setting
# listed in README.md.

VENV := .venv
PY := $(VENV)/bin/python
# Reinstalled only when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install

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
	$(PY) manage.py makemigrations --check --dry-run

test: lint
	$(VENV)/bin/pytest
	scripts/test-postgres

bench: $(STAMP)
	$(PY) -m bench.engine

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
