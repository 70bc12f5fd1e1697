# shisaku-search: `make run` serves on 127.0.0.1:8000, `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install index run test lint eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0        # CPU wheel; an unpinned torch pulls CUDA builds
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(STAMP)

index: install                             ## prepare the embedded model, build the index if missing or stale
	$(VENV)/bin/shisaku index --if-stale

run: index                                 ## serve on 127.0.0.1:8000
	$(VENV)/bin/shisaku serve

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

eval: index                                ## retrieval figures on the development question set
	$(VENV)/bin/shisaku eval data/eval/questions.jsonl

bench: index                               ## latency, throughput, cold start, memory over HTTP
	$(PY) benchmarks/http_bench.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
