# Two entry points, each doing its whole set-up on a fresh machine with Python 3.11:
#   make demo   - the built-in demo (main job)
#   make test   - the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test venv kotlin-tools clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	$(PIP) install --quiet torch==2.13.0
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m tsm_tf.demo

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) build *.egg-info
