# One entry point for people and CI: `make run`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit bench clean e2e image image-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# .venv with copyguard (editable) and the test tools; `source .venv/bin/activate` after.
install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m proxy.run_demo

lint: $(STAMP)
	$(BIN)/ruff check proxy tests bench
	$(BIN)/ruff format --check proxy tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit lint-deploy

# Benchmarks (not tests): the matcher, then the proxy against direct, bare aiohttp proxies
# (the floor on the same event loop) and LiteLLM (its own venv, pinned) in one interleaved
# run of about 8 minutes; `bench-compare BASE=path` adds a second checkout (before/after).
BENCH_STAMP := $(VENV)/.bench-stamp
LITELLM_VENV := bench/.venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.installed-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

$(LITELLM_STAMP):
	test -x $(LITELLM_VENV)/bin/python || $(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install -q 'litellm[proxy]==1.108.7'
	touch $(LITELLM_STAMP)

bench: $(STAMP) $(BENCH_STAMP) $(LITELLM_STAMP)
	$(BIN)/python -m bench.matcher
	$(BIN)/python -m bench.hotpath
	$(BIN)/python -m bench.proxies --litellm
	$(BIN)/python -m bench.workers
	$(BIN)/python -m bench.index

.PHONY: bench-compare
bench-compare: $(STAMP) $(BENCH_STAMP)
	test -n "$(BASE)" || { echo "usage: make bench-compare BASE=path/to/other/checkout" >&2; exit 2; }
	for i in 1 2 3; do \
	  $(BIN)/python -m bench.hotpath --repeat 3; \
	  (cd $(BASE) && PYTHONPATH=. $(abspath $(BIN))/python -m bench.hotpath --repeat 3); \
	done  # alternated: each tree with its own bench/hotpath.py, CPU time, best of runs
	$(BIN)/python -m bench.proxies --baseline-src $(BASE) \
	  --targets bytes,reencode,copyguard,copyguard-base

# A real model server (llama.cpp, SmolLM2-135M) behind the proxy; slow, not part of `test`.
e2e: $(STAMP)
	PYTHON=$(PYTHON) PYTEST=$(BIN)/pytest bash tests/e2e/run.sh

# The Dockerfile built into localhost/copyguard:latest (podman, or docker where an engine
# runs; a stand-in base from Debian's packages where python:3.11-slim cannot be pulled),
# then run: health on any COPYGUARD_LISTEN, non-root, mounted rules, clean/protected answers,
# SIGTERM drain; and the sidecar pod from deploy/k8s with `podman kube play`.  Not in `test`.
image:
	bash tests/image/build.sh

image-test: $(STAMP) image
	COPYGUARD_IMAGE_TEST=1 $(BIN)/pytest tests/image -rs -v

# deploy/ and the Dockerfile: dashboard script lint, promtool (alert unit tests), hadolint,
# checkov (its own venv: heavy, pinned deps).  kubernetes-validate and the real-Prometheus
# test of every dashboard/alert expression run in pytest (tests/deploy/).
.PHONY: dashboards lint-deploy
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

dashboards: $(STAMP)
	$(BIN)/python deploy/grafana/build.py > deploy/grafana/copyguard.json

$(CHECKOV_STAMP): $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q checkov==3.3.30
	touch $(CHECKOV_STAMP)

lint-deploy: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check deploy
	$(BIN)/ruff format --check deploy
	$(BIN)/mypy --strict deploy/grafana/build.py
	$(BIN)/hadolint Dockerfile
	@if command -v promtool >/dev/null; then \
	  set -e; \
	  promtool check config deploy/prometheus/prometheus.yml; \
	  promtool test rules deploy/prometheus/alerts_test.yml; \
	elif [ -n "$$CI" ]; then \
	  echo "promtool not found: .ci/run must 'apt-get install prometheus'" >&2; exit 1; \
	else \
	  echo "SKIPPED promtool checks: promtool not found (apt-get install prometheus)" >&2; \
	fi
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework dockerfile -f Dockerfile
	# patches/ holds strategic-merge patches, not whole resources: checked as merged by users.
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework kubernetes \
	  -d deploy/k8s --skip-path deploy/k8s/patches

# Soak (a benchmark, not a test): 500 concurrent streams for 60 s through `copyguard serve`.
.PHONY: soak
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
