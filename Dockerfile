# syntax=docker/dockerfile:1
#
# Nook container image, in three stages:
#   web    node:20     npm ci && npm run build         -> /web-dist (index.html + assets/)
#   build  rust:1.95   cargo build --release --locked  -> nook, with /web-dist embedded
#   final  distroless  cc-debian12:nonroot (glibc + libgcc, no shell), runs as uid 65532
#
#   docker build -t nook:latest .
#   docker run -d --name nook -p 8080:8080 -v nook-data:/data nook:latest
#   docker logs nook      # first start without NOOK_ADMIN_PASSWORD(_FILE) prints the admin password
#
# Every stage only runs the commands CI runs; see deploy/README.md for compose, systemd,
# reverse proxies and backups. Needs BuildKit (the default builder since Docker 23).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------------
# 1. Web app. package*.json first, so `npm ci` stays cached while only sources change. The
#    output is plain JS/CSS, so this stage runs natively even when building for another arch.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY web/ ./
# The API client's types are generated from the committed spec during the build.
COPY openapi/ /src/openapi/
RUN NOOK_WEB_OUT=/web-dist npm run build \
 && test -f /web-dist/index.html

# ---------------------------------------------------------------------------------------------
# 2. Server. build.rs copies NOOK_WEB_DIST instead of running npm (web/ is copied only because
#    build.rs names its files in rerun-if-changed). .git is not in the context, so the commit
#    reported by /api/get_version is "unknown"; pass --build-arg SOURCE_DATE_EPOCH=... for a
#    reproducible build date.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY server/ server/
# libunftp with the control-line cap (Cargo.toml [patch.crates-io]).
COPY vendor/ vendor/
COPY web/ web/
COPY openapi/ openapi/
COPY --from=web /web-dist /web-dist
ARG SOURCE_DATE_EPOCH
ENV NOOK_WEB_DIST=/web-dist \
    CARGO_TERM_COLOR=never
# target/ is a cache mount, so the binary is copied out in the same step. This step only runs
# when an input changed; the touch makes sure cargo then rebuilds the nook crate even if a
# changed file carries an mtime older than the cached build (dependencies stay cached).
# /out is the future root file system: the binary, and /data (plus /data/files) owned by
# distroless' nonroot user.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    find server -type f -exec touch {} + \
 && cargo build --release --locked -p nook \
 && install -D -m 0755 target/release/nook /out/usr/local/bin/nook \
 && install -d -m 0750 -o 65532 -g 65532 /out/data /out/data/files

# ---------------------------------------------------------------------------------------------
# 3. Runtime: no shell, no package manager; the binary links only libc, libm and libgcc_s.
FROM ${RUNTIME_IMAGE}

ARG NOOK_VERSION=0.1.0
ARG VCS_REF=unknown
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="Nook" \
      org.opencontainers.image.description="Self-hosted NAS file manager: web app, JSON API and FTP in one binary" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.version="${NOOK_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /out/usr/local/bin/nook /usr/local/bin/nook
# /data does not exist in the base image, so COPY --chown creates it owned by 65532 too.
# It must be populated before VOLUME: a new named volume starts as a copy of it.
COPY --from=build --chown=65532:65532 /out/data /data

USER 65532:65532
# Config layers: defaults -> TOML (NOOK_CONFIG) -> NOOK_* env -> flags; see deploy/nook.example.toml.
ENV NOOK_LISTEN=0.0.0.0:8080 \
    NOOK_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
# /api/is_up is rate limited to 1 request/s per IP: keep the interval well above that.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/nook", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/nook"]
CMD ["serve"]
