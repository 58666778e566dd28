# Kontor: `make run` starts everything on the embedded defaults; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export FLASK_APP := app:create_app
STAMP := $(VENV)/.installed

.PHONY: run test install services migrate setup stop-redis bench-deps benchmark-order-list translations clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	flask db upgrade

setup: migrate
	flask kontor setup

run: setup
	@echo "Kontor on http://127.0.0.1:5000 (Ctrl-C stops web, worker and scheduler)"
	@# The embedded Redis is a daemon shared by the three processes; stop it when they stop.
	trap 'flask kontor stop-redis' EXIT; honcho start -f Procfile -p 5000 web worker sync scheduler

services:
	bash tests/ensure_services.sh

test: install services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

stop-redis: install
	flask kontor stop-redis

bench-deps: install services
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

benchmark-order-list: install
	$(BIN)/python benchmarks/order_list.py

# After wrapping new texts in _() / {{ _('...') }}: refresh both catalogues, then translate the Polish one.
# The app compiles the .mo files itself when it starts (app/core/i18n.py), so a fresh clone needs no step.
translations: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location -o app/translations/messages.pot .
	$(BIN)/pybabel -q update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d app/translations

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
