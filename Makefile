# cchc — every command a person runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo "cargo nextest run" || echo "cargo test")

.PHONY: help run cluster test build tools lint fmt unit e2e bench chaos fuzz fuzz-api compose-config clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: ## Build and bring the whole system up in the foreground (Ctrl-C stops it; CCHC_SKIP_BUILD=1 runs the built binaries)
	deploy/local/run.sh

cluster: ## Like run, with two replicas of every service and gateway and a three-node NATS cluster (streams of three copies; docs/cluster.md)
	CCHC_REPLICAS=$${CCHC_REPLICAS:-2} CCHC_NATS_NODES=$${CCHC_NATS_NODES:-3} deploy/local/run.sh

test: lint build ## Formatting, clippy and every test against real NATS and PostgreSQL
	deploy/local/with-infra.sh $(NEXTEST) --workspace

build: ## Build every service binary (debug)
	cargo build --workspace --bins

tools: ## Install the pinned nats-server into .tools/
	deploy/local/tools.sh

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

unit: ## Unit tests only (no NATS or PostgreSQL needed)
	$(NEXTEST) --workspace --lib --bins

e2e: build ## The end-to-end tests across the real binaries
	deploy/local/with-infra.sh $(NEXTEST) -p cchc-e2e

bench: ## Load figures beside raw baselines, measured in one run (release build; see docs/benchmarks.md)
	cargo build --release --bins
	deploy/local/with-infra.sh "$${CARGO_TARGET_DIR:-target}/release/cchc-bench"

chaos: build ## The full fault suite: kills NATS, each service, restarts PostgreSQL; nothing lost or doubled
	deploy/local/with-infra.sh "$${CARGO_TARGET_DIR:-target}/debug/cchc-chaos"

FUZZ_TARGETS := activity_json procedure_json period catalogue_csv template
fuzz: ## Coverage-guided fuzzing (libFuzzer) of every parser of untrusted input, CCHC_FUZZ_SECONDS each (default 60)
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
	@# cargo-fuzz passes unstable flags; without a sanitizer the stable compiler accepts them.
	set -e; for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz -s none $$t -- -max_total_time=$${CCHC_FUZZ_SECONDS:-60}; \
	done

fuzz-api: build ## Schema-driven fuzzing of the HTTP API from its OpenAPI document (no 5xx allowed)
	CCHC_FUZZ_EXAMPLES=$${CCHC_FUZZ_EXAMPLES:-100} deploy/local/with-infra.sh $(NEXTEST) -p cchc-e2e -E 'binary(api_fuzz)' --no-capture

compose-config: ## Check the compose file (needs the docker compose plugin)
	POSTGRES_PASSWORD=check CCHC_BOOTSTRAP_TOKEN=check-token-0123456789 CCHC_INTERNAL_TOKEN=check-internal-0123456789 \
	CCHC_NATS_ADMIN_PASSWORD=check CCHC_NATS_GATEWAY_PASSWORD=check CCHC_NATS_CATALOGUE_PASSWORD=check \
	CCHC_NATS_ACTIVITY_PASSWORD=check CCHC_NATS_NOTIFICATION_PASSWORD=check CCHC_NATS_REPORTING_PASSWORD=check \
	docker compose -f deploy/compose.yaml --profile observability config --quiet

clean: ## Stop the private PostgreSQL and remove build output and local data
	-deploy/local/postgres.sh stop
	cargo clean
	rm -rf .data
