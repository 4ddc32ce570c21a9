# One-command set-up, tests and the local server. Every step is stamped, so a second
# `make setup` with nothing changed does no work. Only PyPI, npm and Debian are contacted.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

# Pure wheels Pyodide needs, at the versions its own lock pins (node_modules/pyodide/pyodide-lock.json).
PYODIDE_WHEELS := micropip==0.11.1 packaging==26.1
# Everything that goes into the webinfer wheel; directories too, so added/removed files count.
PACKAGE_INPUTS := pyproject.toml $(shell find py -not -path '*/__pycache__*' -not -path '*.egg-info*' \( -type d -o -name '*.py' -o -name '*.json' -o -name '*.js' -o -name '*.mjs' -o -name '*.wgsl' -o -name '*.html' -o -name '*.css' -o -name '*.jpg' -o -name 'py.typed' \))

.PHONY: setup wheel test lint demo serve
.DELETE_ON_ERROR:

setup: $(VENV)/.installed node_modules/.installed $(VENV)/.chromium wheels/pyodide-lock.json

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[host,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Unpack @sparticuz/chromium once (into ~/.cache/webinfer) and install its system libraries
# only when ldd reports some missing (exit 3 from --check-libs).
$(VENV)/.chromium: node_modules/.installed $(VENV)/.installed
	@rc=0; $(PY) -m webinfer.tools.chromium --check-libs || rc=$$?; \
	if [ $$rc -eq 3 ]; then \
		echo "installing Chromium's system libraries"; \
		apt-get update -qq && $(PY) -m playwright install-deps chromium && \
		$(PY) -m webinfer.tools.chromium --check-libs; \
	else exit $$rc; fi
	touch $@

wheels/.pyodide-deps: Makefile | $(VENV)/.installed
	mkdir -p wheels
	$(PIP) download -q --no-deps --only-binary=:all: --python-version 3.14 --platform any -d wheels $(PYODIDE_WHEELS)
	touch $@

# The pure webinfer wheel; rebuilt whenever a package source changes (browser tests install it).
wheels/.webinfer: $(PACKAGE_INPUTS) | $(VENV)/.installed
	mkdir -p wheels
	rm -rf build wheels/webinfer-*.whl
	$(PIP) wheel -q --no-deps --no-build-isolation -w wheels .
	rm -rf build
	touch $@

wheels/pyodide-lock.json: wheels/.webinfer wheels/.pyodide-deps node_modules/.installed
	$(PY) -m webinfer.tools.lockfile

wheel: $(VENV)/.installed node_modules/.installed wheels/pyodide-lock.json

# Browser tests must run: --require-browser turns a skipped browser test (no Chromium) into a failure.
test: setup
	$(VENV)/bin/pytest --require-browser $(PYTEST_ARGS)

# Lint and type-check (config in pyproject.toml); tests/test_lint.py runs the same in `make test`.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check py tests
	$(VENV)/bin/mypy

# `make demo` builds the demo data once (models + stdlib corpus, cached in .cache/demo) and serves the
# search demo at /, the classify page at /classify.html and the REPL at /repl.html.
# `make demo QUERY="remove a directory tree" [BACKEND=webnn]` runs that one query headless instead and prints
# the hits, the backend, the device and timings; `make demo CLASSIFY=photo.jpg [BACKEND=webgpu]` one photo.
demo: setup
ifdef QUERY
	$(VENV)/bin/webinfer demo --query '$(subst ','\'',$(QUERY))' $(if $(BACKEND),--backend $(BACKEND))
else ifdef CLASSIFY
	$(VENV)/bin/webinfer demo --classify '$(subst ','\'',$(CLASSIFY))' $(if $(BACKEND),--backend $(BACKEND))
else
	$(VENV)/bin/webinfer demo --host $(HOST) --port $(PORT)
endif

serve: setup
	$(VENV)/bin/webinfer serve --host $(HOST) --port $(PORT)
