# Connect: `make run` serves on http://127.0.0.1:8000 (development), `make serve` in production (gunicorn.conf.py),
# `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# The suite uses real Redis for everything cache-related (a dedicated db number).
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Where `make run` serves.
RUN_ADDR ?= 127.0.0.1:8000

.PHONY: run prepare serve test check bench migrate env clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

.env: | $(BIN)/python
	$(BIN)/python scripts/write_env.py .env

env: .env

migrate: $(STAMP_RUN) .env
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py runserver $(RUN_ADDR)

# Production: no .env is written (configure the environment, see README "Deploying"); settings refuse to start
# without SECRET_KEY and FERNET_KEYS. `prepare` is what must run before gunicorn starts (the systemd unit runs it as
# ExecStartPre and gunicorn itself as its main process, so that a reload reaches gunicorn's master).
prepare: $(STAMP_RUN)
	$(BIN)/python manage.py collectstatic --noinput
	$(BIN)/python manage.py migrate --noinput

serve: prepare
	exec $(BIN)/python -m gunicorn -c gunicorn.conf.py

test: $(STAMP_DEV) .env
	$(BIN)/python scripts/ensure_chromium.py
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} $(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint and Django's own checks: ruff (lint and format), no model change without its migration, and the deployment
# checks with production settings (throwaway keys; HTTPS as a production configuration has it).
check: $(STAMP_DEV) .env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	env -u DATABASE_URL DEBUG=false ALLOWED_HOSTS=connect.example.com SECURE_SSL_REDIRECT=true \
	  SECURE_HSTS_INCLUDE_SUBDOMAINS=true SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  FERNET_KEYS="$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

bench: $(STAMP_DEV) .env
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) *.egg-info
