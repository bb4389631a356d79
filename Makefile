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

.PHONY: setup run test worker bench screenshots system-deps

setup: $(VENV)/.installed system-deps

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --requirement requirements.txt
	touch $@

# From Debian: the zbar library pyzbar decodes the QR tests with; Kannel's bearerbox and smsbox
# (kannel) and its fake SMSC (kannel-extras) for the Kannel test; chromium and its driver for the
# dashboard's browser test (never a browser build downloaded by selenium); DejaVu for print posters.
SYSTEM_PACKAGES := libzbar0 kannel kannel-extras chromium chromium-driver fonts-dejavu-core
system-deps:
	@dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
		($(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null)

# The dev phone is served only when asked for (see README, Configuration); the dashboard links
# the bot sends point at this server.
run: export DEV_PHONE = 1
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed  # Python's packages only: the Debian ones are for the tests (QR decoding, Kannel, a browser)
	$(FLASK) db upgrade
	$(FLASK) tenants load examples/tenant.json
	@echo
	@echo "  Dev phone: http://$(HOST):$(PORT)/dev/phone   (or: $(FLASK) chat --from +2348031234567)"
	@echo
	$(FLASK) serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest -q

worker: $(VENV)/.installed
	$(BIN)/rq worker --worker-class rq.worker.SimpleWorker --with-scheduler -c workers.rq_config --url "$${REDIS_URL:?set REDIS_URL}" default

# wrk (Debian) drives the HTTP benchmarks: a C load generator leaves the CPU to the servers.
bench: setup
	@command -v wrk >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/webhook.py

# The dashboard's screenshots in the README, taken again by its browser test.
screenshots: setup
	SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/test_dashboard_browser.py
