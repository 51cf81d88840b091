# Two entry points, each doing its whole set-up on a fresh machine with Python 3.11:
#   make demo   - the built-in demo (main job)
#   make test   - the lint (ruff) and the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv kotlin-tools web-tools clean

# [dev] asks for torch>=2.1 (the checkpoint-import tests need it); torch 2.13.0 (the CPU
# build where the index offers one) goes in first so that [dev] finds it already installed.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m tsm_tf.demo

test: $(STAMP) lint
	@# The Android core's JVM tests need Kotlin; install it where we can (root or sudo).
	@# Where we cannot, tests/test_android_core.py fails and says how to install it.
	-@$(MAKE) --no-print-directory kotlin-tools
	@# The web demo's browser test needs Chromium; where we cannot install it, tests/test_web_demo.py fails and says how.
	-@$(MAKE) --no-print-directory web-tools
	$(PY) -m pytest -q --durations=15 tests

# Debian's Kotlin compiler and JUnit 4, for the Android core's JVM tests (tests/test_android_core.py).
kotlin-tools:
	@scripts/install_kotlin_tools.sh

# ruff: lint (pyflakes, pycodestyle, import order, bugbear, pyupgrade) and formatting, as pyproject.toml sets.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Debian's Chromium, Node.js and npm, for the web demo's tests (tests/test_web_demo.py; it runs `npm ci` in web_demo itself).
web-tools:
	@scripts/install_web_tools.sh

clean:
	rm -rf $(VENV) build *.egg-info
