# syntax=docker/dockerfile:1
#
# Two stages, as the original design has them: `builder` compiles one fully
# static binary (musl, mimalloc, release profile), and the final image holds
# only that binary and the CA certificates, FROM scratch. A third target,
# `dev`, is the toolchain with live reload for docker-compose.yml.
#
#   docker build -t backend .              # the production image (last stage)
#   docker build --target dev -t backend:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t backend .
#
# Platforms: linux/amd64 and linux/arm64. Each platform's builder runs on that
# platform (buildx runs the foreign one under QEMU) and compiles for its own
# musl target, mapped from TARGETARCH. Cross-compiling from $BUILDPLATFORM
# would be faster, but ring and mimalloc compile C, and Debian's musl-tools
# is a musl-gcc for the host architecture only: an aarch64 musl C toolchain
# would have to come from outside Debian (musl.cc tarballs, zig). Building
# on the target platform uses the same packages and steps on both; the cost
# is a slower arm64 build, with its dependency layer cached like amd64's.
#
# Each build step has a mirror that runs without Docker (for x86_64):
# `make build-static` (toolchain + the real build), `make docker-mirror`
# (the whole builder stage, dependency layer included, in a scratch copy of
# the context, plus the final image's file tree) — see the Makefile.
#
# Base images are pinned by tag; Renovate (renovate.json) adds and refreshes
# their digests, Dependabot (.github/dependabot.yml) bumps the tags. The rust
# tag is the toolchain of rust-toolchain.toml: bump both together. (That file
# is not copied in: the image's toolchain is the same version, and the file's
# components would make rustup download rustfmt and clippy here.)

# ---------------------------------------------------------------------------
# Builder: the static binary.
FROM rust:1.95.0-bookworm AS builder
ARG TARGETARCH
WORKDIR /app

# The C toolchain for musl (ring and mimalloc compile C) and the Rust target
# of this platform, kept in /rust-target for the steps below. musl-gcc is
# named for cc-rs on both targets. Mirror: the first lines of
# `make build-static`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CC_aarch64_unknown_linux_musl=musl-gcc
RUN case "${TARGETARCH:-}" in \
      amd64) target=x86_64-unknown-linux-musl ;; \
      arm64) target=aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH:-}': amd64 or arm64 (build with BuildKit)" >&2; exit 1 ;; \
    esac \
    && rustup target add "$target" \
    && echo "$target" > /rust-target

# Dependencies alone, on placeholder sources: this layer is rebuilt only when
# the manifest, the lock file, build.rs or a migration changes, not when a
# source file does. build.rs embeds sql/migrations, hence sql/ here. (The
# placeholders come from docker/stub-sources.sh rather than cargo-chef: it
# is one POSIX script that `make docker-mirror` runs without Docker, where
# cargo-chef would be one more tool to install, or one more base image to
# pin, on each platform.)
# Mirror: the dependency step of `make docker-mirror`.
COPY Cargo.toml Cargo.lock build.rs ./
COPY sql ./sql
COPY docker/stub-sources.sh ./docker/
RUN sh docker/stub-sources.sh \
    && cargo build --locked --release --target "$(cat /rust-target)" \
    && rm -rf src

# The real sources (the placeholders of benches and tests stay: the binary
# does not need them, only the manifest does). COPY keeps the files' own
# modification times, which may be older than the placeholders' build:
# touch the crate roots so cargo rebuilds the crate.
# Mirror: `make build-static` (and the last step of `make docker-mirror`).
COPY src ./src
RUN target=$(cat /rust-target) \
    && touch src/main.rs src/lib.rs \
    && cargo build --locked --release --target "$target" \
    && cp "target/$target/release/backend" /backend \
    && ldd /backend 2>&1 | grep -Eq 'not a dynamic executable|statically linked'

# ---------------------------------------------------------------------------
# dev: the toolchain and live reload, for docker-compose.yml, which mounts
# src/ and sql/ over the copies here and a volume on target/.
# scripts/watch.sh rebuilds and restarts `cargo run` on every change.
# Mirror: `make dev`.
FROM rust:1.95.0-bookworm AS dev
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
# binary: the static executable alone, for
#   docker buildx build --platform linux/amd64,linux/arm64 --target binary \
#     --output type=local,dest=out .
# (out/linux_amd64/backend, out/linux_arm64/backend): the release workflow
# attaches these, built by the same builder as the image's.
FROM scratch AS binary
COPY --from=builder /backend /backend

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
