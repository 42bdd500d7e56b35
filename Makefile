# One entry point for set-up, checks and tests. Every target installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest fuzz clean docs package-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The fuzz tests (tests/fuzz, a bounded run inside `make test`) at length: FUZZ_EXAMPLES random
# examples per test, no deadline and no per-test timeout. Failures print a reproducing example.
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	HTTPLIB_FUZZ=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -o timeout=0 -q

# Build the sdist and wheel as an index would receive them, check their metadata renders
# (twine --strict), and that the sdist leaves out the benchmark results and carries the LICENSE.
PKG_DIST := build/package-check
package-check: $(STAMP)
	rm -rf $(PKG_DIST)
	$(BIN)/python -m build --outdir $(PKG_DIST) . >/dev/null
	$(BIN)/twine check --strict $(PKG_DIST)/*
	$(BIN)/python -c "import sys, tarfile, glob; names = tarfile.open(glob.glob('$(PKG_DIST)/*.tar.gz')[0]).getnames(); bad = [n for n in names if '/bench/results/' in n]; sys.exit(f'sdist ships {bad}' if bad or not any(n.endswith('/LICENSE') for n in names) else 0)"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis site

# The documentation site (mkdocs.yml) into site/; --strict turns every warning (a broken link,
# a name mkdocstrings cannot find) into a failure. Its code blocks run in tests/docs.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# --- benchmarks ---
# Owned by bench/ (see bench/README.md). `bench` is the full run (~25 min on 2 cores);
# `bench-smoke` runs every client and scenario briefly and fails on wrong data (CI, ~2 min).
# Extra options go through BENCH_ARGS, e.g. `make bench BENCH_ARGS="--duration 3"`.
BENCH_PY := bench/.venv-peers/bin/python
BENCH_ARGS ?=

.PHONY: bench bench-smoke bench-setup

bench-setup: $(STAMP)
	PYTHON=$(PYTHON) bash bench/bootstrap.sh

bench: bench-setup
	$(BENCH_PY) bench/run.py $(BENCH_ARGS)

bench-smoke: bench-setup
	$(BENCH_PY) bench/run.py --smoke $(BENCH_ARGS)

# --- soak ---
# Owned by bench/soak.py (see bench/README.md, "Soak"): zero failed requests, intact bodies,
# flat RSS and no leaked fds while nginx, h2o, Apache, Caddy, lighttpd and a scripted GOAWAY
# peer recycle and reload connections under every runtime and protocol. `soak` is the long form
# (~280,000 requests, ~10 min on 2 cores); `soak-ci` the bounded one CI runs, which honours
# bench/soak/expected-failures.txt. bench/soak/setup.sh installs the servers (apt-get, idempotent).
SOAK_ARGS ?=

.PHONY: soak soak-ci soak-ci-retries soak-setup

soak-setup:
	bash bench/soak/setup.sh

soak: $(STAMP) soak-setup
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

soak-ci: $(STAMP) soak-setup
	$(BIN)/python bench/soak.py --ci $(SOAK_ARGS)

# The same with the clients given retries=3: no idempotent request may fail (only uploads).
soak-ci-retries: $(STAMP) soak-setup
	$(BIN)/python bench/soak.py --ci --retries 3 \
		--expected bench/soak/expected-failures-retries.txt $(SOAK_ARGS)

# --- httpx's users on httplib ---
# Real libraries' own test suites (thirdparty/run.py: starlette, ollama, httpx-sse, pytest-httpx,
# pinned), run on httpx and then on httplib through alias_httpx(); fails if a test passing on
# httpx does not pass on httplib, beyond a suite's documented differences. Own venv
# (thirdparty/.venv): ~1 min once installed, ~2 min building it.
.PHONY: compat
compat:
	$(PYTHON) thirdparty/run.py
