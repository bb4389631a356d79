# make run  - set up (virtualenv, packages, database, example vendor) and start the server with the dev phone
#             (and, without REDIS_URL, the scheduled jobs in-process)
# make test - set up and run the test suite (SQLite + fake Redis unless TEST_DATABASE_URL / TEST_REDIS_URL are set)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test worker bench system-deps

setup: $(VENV)/.installed system-deps

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --requirement requirements.txt
	touch $@

# pyzbar, which the QR tests decode with, needs the zbar library from the system; the Kannel
# test runs Kannel's bearerbox and smsbox (kannel) and its fake SMSC (kannel-extras).
system-deps:
	@(ldconfig -p | grep -q libzbar.so.0 && test -x /usr/sbin/bearerbox && test -x /usr/lib/kannel/test/fakesmsc) || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libzbar0 kannel kannel-extras >/dev/null)

# The dev phone is served only when asked for (see README, Configuration).
run: export DEV_PHONE = 1
run: setup
	$(FLASK) db upgrade
	$(FLASK) tenants load examples/tenant.json
	@echo
	@echo "  Dev phone: http://$(HOST):$(PORT)/dev/phone   (or: $(FLASK) chat --from +2348031234567)"
	@echo
	$(FLASK) serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest -q

worker: setup
	$(BIN)/rq worker --with-scheduler -c workers.rq_config --url "$${REDIS_URL:?set REDIS_URL}" default

bench: setup
	$(BIN)/python bench/webhook.py
