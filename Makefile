# Two commands on a fresh Debian machine (as root): `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the project needs: Tesseract with its languages, fonts for the generated
# fixtures (DejaVu; WenQuanYi for Chinese fapiao; Liberation and URW fonts for the careful
# forger of bench/tampering.py), zbar for barcodes, chromium for the web
# app's browser tests (Playwright drives it: it cannot download its own browser here).
DEB_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-deu \
	tesseract-ocr-fra fonts-dejavu-core fonts-wqy-zenhei libzbar0 chromium \
	fonts-liberation fonts-urw-base35
export OMP_THREAD_LIMIT ?= 1

.PHONY: setup system-packages venv constraints demo test test-fast lint worker bench clean

setup: system-packages venv $(BIN)/promtool

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "Could not install$$missing: run as root or install them with apt-get."; exit 1; }; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# tesserocr (the fast OCR engine) is optional: without a wheel or build it falls back to pytesseract.
# constraints.txt pins every package to the versions the suite passed with.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,fast]' || $(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# after changing pyproject.toml's dependencies: pin what is now installed
constraints: venv
	{ echo "# Exact versions 'make' installs (pip install -c constraints.txt): a fresh machine gets the set the"; \
	  echo "# tests passed with. Regenerate after changing pyproject.toml: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

venv: $(VENV)/.installed

# promtool checks the Prometheus alert rules in deploy/ (a test runs it). Taken out of Debian's
# prometheus package without installing the package, which would start a Prometheus server.
$(BIN)/promtool: | $(BIN)/python
	@tmp=$$(mktemp -d) && cd $$tmp && { apt-get download prometheus >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } \
	  && dpkg-deb -x prometheus_*.deb x && cp x/usr/bin/promtool $(CURDIR)/$@ && cd / && rm -rf $$tmp \
	  || echo "promtool could not be fetched (apt-get download prometheus): the alert rules are checked against their schema only"

demo: setup
	$(BIN)/forensics demo

lint: venv
	$(BIN)/ruff check forensics workers fixtures tests bench

test: setup lint
	$(BIN)/pytest -q

test-fast: venv
	$(BIN)/pytest -q -m "not integration and not slow"

# Real workers on FORENSICS_BROKER_URL (redis://… or amqp://…): one process per core, one thread
# each, supervised (a killed worker is restarted; the others go on).
worker: setup
	$(BIN)/forensics worker --processes $$(nproc) --threads 1

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/index.py
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) demo forensics.db .pytest_cache bench/out
