# syntax=docker/dockerfile:1
#
# Two stages, as the original design has them: `builder` compiles one fully
# static binary (x86_64-unknown-linux-musl, mimalloc, release profile), and
# the final image holds only that binary and the CA certificates, FROM
# scratch. A third target, `dev`, is the toolchain with live reload for
# docker-compose.yml.
#
#   docker build -t backend .              # the production image (last stage)
#   docker build --target dev -t backend:dev .
#
# No Docker engine runs on the development machines of this project, so each
# build step below has a mirror that runs there and in CI without Docker:
# `make build-static` (toolchain + the real build), `make docker-mirror`
# (the whole builder stage, dependency layer included, in a scratch copy of
# the context, plus the final image's file tree) — see the Makefile.

ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------
# Builder: the static binary.
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /app

# The C toolchain for musl (ring and mimalloc compile C) and the Rust target.
# Mirror: the first lines of `make build-static`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl

# Dependencies alone, on placeholder sources: this layer is rebuilt only when
# the manifest, the lock file, build.rs or a migration changes, not when a
# source file does. build.rs embeds sql/migrations, hence sql/ here.
# Mirror: the dependency step of `make docker-mirror`.
COPY Cargo.toml Cargo.lock build.rs ./
COPY sql ./sql
COPY docker/stub-sources.sh ./docker/
RUN sh docker/stub-sources.sh \
    && cargo build --locked --release --target x86_64-unknown-linux-musl \
    && rm -rf src

# The real sources (the placeholders of benches and tests stay: the binary
# does not need them, only the manifest does). COPY keeps the files' own
# modification times, which may be older than the placeholders' build:
# touch the crate roots so cargo rebuilds the crate.
# Mirror: `make build-static` (and the last step of `make docker-mirror`).
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --locked --release --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/release/backend /backend \
    && ldd /backend 2>&1 | grep -Eq 'not a dynamic executable|statically linked'

# ---------------------------------------------------------------------------
# dev: the toolchain and live reload, for docker-compose.yml, which mounts
# src/ and sql/ over the copies here and a volume on target/.
# scripts/watch.sh rebuilds and restarts `cargo run` on every change.
# Mirror: `make dev`.
FROM rust:${RUST_VERSION}-bookworm AS dev
WORKDIR /app
# The crates first (cached until the lock file changes); the manifest must
# find every target it declares, hence the placeholders again.
COPY Cargo.toml Cargo.lock ./
COPY docker/stub-sources.sh ./docker/
RUN sh docker/stub-sources.sh && cargo fetch --locked && rm -rf src
COPY build.rs ./
COPY sql ./sql
COPY src ./src
COPY scripts ./scripts
ENV HOST=0.0.0.0 PORT=8000 APP_ENV=dev
EXPOSE 8000
CMD ["scripts/watch.sh", "--locked", "--", "serve"]

# ---------------------------------------------------------------------------
# Final: one static binary on an empty file system, as a non-root user.
# The CA bundle is there for TLS to the database (sslmode=require today
# encrypts without verifying; a verifying mode will read it).
# Mirror: the final step of `make docker-mirror` (target/docker/rootfs).
FROM scratch AS runtime
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /backend /backend
ENV HOST=0.0.0.0 PORT=8000 APP_ENV=prod
# nonroot in distroless images; no /etc/passwd needed for a numeric id.
USER 65532:65532
EXPOSE 8000
# scratch has no curl: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/backend", "healthcheck"]
# SIGTERM reaches the binary directly (PID 1, exec form): it drains within
# SHUTDOWN_TIMEOUT_MS (8 s), below Docker's 10 s stop timeout.
ENTRYPOINT ["/backend"]
CMD ["serve"]
