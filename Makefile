PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the offline data mirror beside the checkout, when there is one; otherwise Reuters is downloaded (checksummed)
ifneq ($(wildcard ../shared/data),)
export TRAINER_DATA_MIRROR ?= $(abspath ../shared/data)
endif

.PHONY: setup test test-unit test-slow demo clean

setup: $(BIN)/trainer

$(BIN)/trainer: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0   # CPU wheel; must come before anything that depends on torch
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

test: setup   # two workers (pytest-xdist): one per core
	$(BIN)/python -m pytest -q -n 2

test-unit: setup   # the inner loop: no tiny training runs, no servers, no real corpus (~20 s)
	$(BIN)/python -m pytest -q -m 'not slow and not integration'

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

demo: setup
	$(BIN)/trainer train configs/quickstart.yaml

clean:
	rm -rf runs data/processed .pytest_cache
