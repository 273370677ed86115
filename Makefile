PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the offline data mirror beside the checkout, when there is one; otherwise Reuters is downloaded (checksummed)
ifneq ($(wildcard ../shared/data),)
export TRAINER_DATA_MIRROR ?= $(abspath ../shared/data)
endif

.PHONY: setup test test-unit test-slow demo docs docs-serve clean

setup: $(BIN)/trainer

$(BIN)/trainer: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0   # CPU wheel; must come before anything that depends on torch
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

test: setup   # two workers (pytest-xdist), each on a core of its own (tests/conftest.py); an idle one takes queued tests
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

test-unit: setup   # the inner loop: no tiny training runs, no servers, no real corpus
	$(BIN)/python -m pytest -q -m 'not slow and not integration'

test-slow: setup
	$(BIN)/python -m pytest -q -m slow -n 2 --dist worksteal   # as CI's second pass (.ci/run)

demo: setup
	$(BIN)/trainer train configs/quickstart.yaml

docs: $(BIN)/mkdocs   # the documentation site -> site/; strict: a broken link or a page left out of the nav fails
	$(BIN)/mkdocs build --strict

docs-serve: $(BIN)/mkdocs   # the site at http://127.0.0.1:8000/, rebuilt on every save
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

# after setup (torch's CPU wheel first): '.[docs]' on its own would pull trainer's dependencies with a CUDA torch
$(BIN)/mkdocs: | $(BIN)/trainer
	$(BIN)/pip install -q -e '.[docs]'

clean:
	rm -rf runs data/processed .pytest_cache site
