# Two commands set up everything on a fresh machine with Python 3.11:
#   make demo   the main job on the built-in corpus
#   make test   the test suite (the same command CI runs)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench venv node clean aarch64 test-targets

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[full,dev,piper]'
	# tf_keras (tests only) requires `tensorflow`; tensorflow-cpu provides the same module, so
	# install it without dependencies instead of letting pip add the full package.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt tf_keras
	touch $(STAMP)

venv: $(STAMP)

# The JS clients (clients/node: onnxruntime-node; clients/web: onnxruntime-web + playwright-core),
# pinned by their package-lock.json. Skipped with a note when npm is missing (their tests skip).
NODE_CLIENTS := clients/node clients/web
NODE_STAMPS := $(NODE_CLIENTS:%=%/node_modules/.installed)

node: $(NODE_STAMPS)

clients/%/node_modules/.installed: clients/%/package.json clients/%/package-lock.json
	@if command -v npm >/dev/null; then \
		cd clients/$* && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error \
		&& touch node_modules/.installed; \
	else echo "note: npm not found; skipping clients/$* (its tests will skip)"; fi

demo: $(STAMP)
	$(BIN)/edge-asr demo $(ARGS)

test: $(STAMP) node
	$(BIN)/python -m pytest -q $(ARGS)

test-fast: $(STAMP) node
	$(BIN)/python -m pytest -q -m "not slow" $(ARGS)

# Emulated aarch64 environment (qemu-user + Debian arm64 root + the runtime extra's aarch64
# wheels), cached under .cache/aarch64; ARGS=--force rebuilds it. Needs root on x86-64 Linux.
aarch64: $(STAMP)
	$(BIN)/python -m edge_asr.targets.aarch64 $(ARGS)

# The device-target test groups: the runtime inside aarch64, and the TFLM checks.
test-targets: $(STAMP)
	$(BIN)/python -m pytest -q -m "aarch64 or micro" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy runtime

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo .pytest_cache
