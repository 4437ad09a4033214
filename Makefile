# Two commands matter: `make bench` (the main job) and `make test` (the suite, lint included).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: bench test lint unit perf clean aarch64-env test-deps test-aarch64

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=77'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## bench: identify this host, run the default suite, write results/<run-id>/ and its HTML report
bench: $(STAMP)
	$(BIN)/harness run --size default --report $(ARGS)

## test: lint, type-check, then the test suite (it installs the real parts it tests with:
## OpenSSH, Chromium, and the emulated aarch64 Python)
test: lint test-deps aarch64-env unit

unit: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15 $(ARGS)

## test-aarch64: every workload under QEMU at tiny size, and the crosscheck against x86 (about
## ten minutes on two cores; `make test` runs three of them). CI runs both.
test-aarch64: $(STAMP) aarch64-env
	HARNESS_EMULATED_WORKLOADS=all $(BIN)/python -m pytest -q tests/test_emulated.py $(ARGS)

## test-deps: the system packages the tests use as real parts (sshd, chromium)
test-deps:
	scripts/test-deps.sh

## aarch64-env: an arm64 userland and aarch64 wheels run under QEMU (harness run --host qemu-aarch64)
aarch64-env:
	scripts/aarch64-env.sh

## perf: each Numba kernel beside its NumPy (and, if installed, PyTorch) alternative: ratios;
## the report over 10,000 rows: build seconds and size; the harness beside pyperf and
## pytest-benchmark (wall time, interval, A/A gap); the calibration of its intervals over ten
## runs; and what a replicate costs and samples (fresh interpreter or fork, placement, THP)
perf: $(STAMP)
	$(BIN)/python -m pip install --quiet 'pyperf>=2.6'
	$(BIN)/python benchmarks/perf.py $(ARGS)
	$(BIN)/python benchmarks/report_perf.py
	$(BIN)/python benchmarks/peers.py
	$(BIN)/python benchmarks/calibration.py
	$(BIN)/python benchmarks/replicates.py

lint: $(STAMP)
	$(BIN)/ruff check harness workloads tests benchmarks
	$(BIN)/ruff format --check harness workloads tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
