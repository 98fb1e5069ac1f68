# The two commands a fresh machine needs (Python 3.11+, pip, g++):
#   make demo   creates .venv, installs the project, runs the Abilene fiber-cut demo
#   make test   the same environment, then the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/ani demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_fiber_cut.py

lint: $(STAMP)
	$(BIN)/ruff check --select F,E9 kg llm ns3_scenarios orchestrator tests bench
	$(BIN)/hadolint --failure-threshold warning Dockerfile

clean:
	rm -rf $(VENV) build dist *.egg-info
