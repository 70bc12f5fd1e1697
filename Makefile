# shisaku-search: `make run` serves on 127.0.0.1:8000, `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install index run test test-fast lint audit eval bench load clean

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

test: install                              ## everything: real models, HTTP server, browser, MCP
	$(PY) -m pytest

test-fast: install                         ## the logic tests only (fake encoder), under a minute
	$(PY) -m pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	@$(MAKE) --no-print-directory audit

# pip-audit asks PyPI's JSON API (or OSV) about every installed package. Where that service
# is unreachable (a mirror without it, no network) it skips every package yet says "No known
# vulnerabilities found": this target says NOT AUDITED instead. AUDIT_STRICT=1 makes it fail.
audit: install                             ## known vulnerabilities in the installed packages
	@out=$$($(VENV)/bin/pip-audit --skip-editable --progress-spinner off 2>&1); rc=$$?; \
	skipped=$$(printf '%s\n' "$$out" | grep -c 'could not be audited'); \
	if [ $$rc -ne 0 ] && ! printf '%s\n' "$$out" | grep -qiE 'connection|resolve|timed out'; then \
		printf '%s\n' "$$out"; exit $$rc; \
	elif [ $$rc -ne 0 ] || [ $$skipped -gt 0 ]; then \
		echo "pip-audit: NOT AUDITED: $$skipped packages skipped; the vulnerability service"; \
		echo "  (PyPI JSON API / OSV) is not reachable from here. Run 'make audit' where it is."; \
		if [ -n "$$AUDIT_STRICT" ]; then exit 1; fi; \
	else printf '%s\n' "$$out"; fi

eval: index                                ## retrieval figures on the development question set
	$(VENV)/bin/shisaku eval data/eval/questions.jsonl

bench: index                               ## one-shot CLI, MCP start, cold start, latency, throughput, RSS
	$(PY) benchmarks/lean_bench.py

load: index                                ## 10,000 requests at concurrency 32 over loopback
	$(PY) benchmarks/load_bench.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
