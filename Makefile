# The single entry point for every task. `make help` lists them.
#
# `make run` and `make test` work on a fresh clone with no .env and no
# database running, wherever PostgreSQL's server binaries are installed:
# they start a project-private server when DATABASE_URL is unset.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help install run dev lint format format-check typecheck test check pre-commit-install db-start db-stop \
	migrate-gen migrate-up migrate-down migrate-status contract

help: ## list the recipes
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

install: ## fetch dependencies and check the toolchain and PostgreSQL
	@command -v cargo >/dev/null || { echo "install Rust first: https://rustup.rs"; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fetch --locked
	@if [ -z "$${DATABASE_URL:-}" ] && ! scripts/pg.sh bindir >/dev/null 2>&1; then \
		echo "note: no PostgreSQL server binaries found; set DATABASE_URL to an existing server"; fi

run: ## serve the API on 127.0.0.1:8000 (starts a private PostgreSQL if DATABASE_URL is unset)
	scripts/with-dev-db.sh $(CARGO) run --locked -- serve

dev: ## serve with live reload: rebuild and restart on every change under src/ or sql/
	scripts/with-dev-db.sh scripts/watch.sh --locked -- serve

db-start: ## start the private development PostgreSQL under .data/ and print its URL
	@scripts/pg.sh start .data/postgres >/dev/null && scripts/pg.sh createdb .data/postgres backend
	@url=$$(scripts/pg.sh url .data/postgres); echo "DATABASE_URL=$${url%/postgres}/backend"

db-stop: ## stop the private development PostgreSQL
	scripts/pg.sh stop .data/postgres

migrate-gen: ## write a new, empty migration pair: make migrate-gen msg="add something"
	@test -n "$(msg)" || { echo 'usage: make migrate-gen msg="add something"'; exit 2; }
	@name=$$(printf '%s' "$(msg)" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '_' | sed 's/^_*//; s/_*$$//'); \
	test -n "$$name" || { echo "msg must contain letters or digits"; exit 2; }; \
	base=sql/migrations/$$(date -u +%Y%m%d%H%M%S)_$$name; \
	printf -- '-- %s\n' "$(msg)" > "$$base.up.sql"; \
	printf -- '-- Reverts: %s\n' "$(msg)" > "$$base.down.sql"; \
	echo "wrote $$base.up.sql and $$base.down.sql"

migrate-up: ## apply every pending migration (private PostgreSQL if DATABASE_URL is unset)
	scripts/with-dev-db.sh $(CARGO) run --locked -q -- migrate up

migrate-down: ## revert the most recently applied migration
	scripts/with-dev-db.sh $(CARGO) run --locked -q -- migrate down

migrate-status: ## list migrations: applied, pending, drifted, unknown
	scripts/with-dev-db.sh $(CARGO) run --locked -q -- migrate status

lint: ## clippy on every target, warnings are errors
	$(CARGO) clippy --locked --all-targets -- -D warnings

format: ## format the code
	$(CARGO) fmt --all

format-check: ## check formatting without changing files
	$(CARGO) fmt --all -- --check

typecheck: ## type-check every target (the Rust counterpart of `ty`)
	$(CARGO) check --locked --all-targets

test: ## run every test against a throwaway PostgreSQL (or TEST_DATABASE_URL)
	scripts/with-test-db.sh $(CARGO) test --locked --no-fail-fast

contract: ## property-based contract test (Schemathesis, all checks) against the served OpenAPI document
	scripts/contract.sh

check: format-check lint typecheck test ## what CI runs: format check, lint, typecheck, tests

pre-commit-install: ## install a git pre-commit hook: format check, clippy, typecheck
	@hook=$$(git rev-parse --git-path hooks)/pre-commit; mkdir -p "$$(dirname "$$hook")"; \
	printf '#!/usr/bin/env bash\n# Installed by make pre-commit-install.\nset -e\nmake --no-print-directory format-check lint typecheck\n' > "$$hook"; \
	chmod +x "$$hook"; echo "installed $$hook"
