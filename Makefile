# Everything installs into ./.venv and ./.tools on first use, so both commands work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(BIN):$(PATH)
# kind e2e (`make e2e`, needs Docker and kind): the cluster's name, the image tags it builds and loads into it;
# E2E_KEEP=1 keeps the cluster afterwards.
E2E_CLUSTER ?= modelops-e2e
E2E_IMAGE ?= modelops-operator:e2e
E2E_FAKES_IMAGE ?= modelops-sandbox:e2e
E2E_KEEP ?= 0
export E2E_CLUSTER E2E_IMAGE E2E_FAKES_IMAGE E2E_KEEP

.PHONY: sandbox test lint crds bench e2e clean controlplane

sandbox: $(STAMP)
	$(BIN)/modelops-sandbox run

# The real control plane (kube-apiserver, etcd, kube-controller-manager) is built from Go modules into a per-user
# cache the first time (minutes), then reused. Without Go the tests still run and say loudly what was skipped.
# Four workers on two cores: the tests mostly wait on the API server and the fakes, so more workers than cores
# shorten the run (each worker runs its own control plane).
test: $(STAMP) controlplane
	$(BIN)/python -m pytest -n 4 -q

controlplane: $(STAMP)
	@if command -v go >/dev/null 2>&1; then \
		$(BIN)/python tools/controlplane/build.py >/dev/null; \
	else \
		echo "!! Go is not installed: the real-control-plane tier will be skipped (the emulated cluster stands in)." >&2; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check operator sandbox tests bench tools
	$(BIN)/ruff format --check operator sandbox tests bench tools
	$(BIN)/mypy

crds: $(STAMP)
	$(BIN)/modelops-operator crds --output deploy/crds

bench: $(STAMP)
	$(BIN)/python bench/run.py

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests/e2e -q

$(STAMP): pyproject.toml sandbox/pyproject.toml tools/install_binaries.py tools/install_sdks.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The operator and the sandbox are two distributions; both are installed for development.
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandbox
	$(BIN)/python tools/install_binaries.py .tools/bin
	# The vendors' own SDKs, each in a directory of its own (two twilio releases cannot share one), for the
	# contract tests that drive the fakes with them.
	$(BIN)/python tools/install_sdks.py .
	touch $(STAMP)

clean:
	rm -rf $(VENV) .tools
