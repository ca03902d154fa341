# syntax=docker/dockerfile:1
#
# hsgate container image: a locked release build, run from a distroless
# runtime as a numeric non-root user.
#
#   docker build -t hsgate:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE=https://git.example.internal/platform/hsgate .
#   docker run --read-only -p 8080:8080 -v "$PWD/conf:/etc/hsgate:ro" hsgate:0.1.0
#
# Runtime base: distroless "cc" (Debian 12, nonroot variant), not Debian slim.
# - hsgate is a glibc binary (ldd: libc, libm, libgcc_s and nothing else);
#   distroless cc is exactly glibc + libgcc + CA roots + tzdata, from the same
#   Debian release as the build stage, so the glibc ABI matches.
# - No shell, no package manager, no coreutils: nothing to exec into or to
#   patch, and far fewer packages for image scanners to flag than debian slim.
# - hsgate needs none of them: the web roots are compiled in (webpki-roots;
#   upstream.ca_file / auth.jwks_ca_file name PEM files instead), it writes no
#   file but an optional audit file on a mounted volume (so a read-only root
#   filesystem works), and the Kubernetes manifests pause before shutdown with
#   the kubelet's preStop `sleep` action, not a /bin/sleep in the image.
# Debian slim is the fallback only if operators need a shell in the container.
#
# No HEALTHCHECK: Kubernetes ignores it and probes the admin port itself
# (/healthz, /readyz; see deploy/kubernetes), and the image has no shell or
# curl to run one with. Under plain Docker, probe http://<admin>/readyz from
# outside.
#checkov:skip=CKV_DOCKER_2:No HEALTHCHECK on purpose: Kubernetes liveness/readiness/startup probes hit the admin port (/healthz, /readyz); the distroless image has no shell or curl to run one.

ARG RUST_VERSION=1.95

# ---- build: release binary from the locked dependency tree ----------------
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Only what the build reads: the manifest and lock file, the sources, and the
# bench target Cargo.toml declares (cargo refuses a manifest whose [[bench]]
# file is missing). aws-lc-rs builds its C code with the image's gcc.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
 && install -D -m 0755 target/release/hsgate /out/hsgate \
 && strip /out/hsgate

# ---- runtime ---------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://git.example.internal/platform/hsgate
LABEL org.opencontainers.image.title="hsgate" \
      org.opencontainers.image.description="Credential-injecting gateway for the HostedSuite call-center API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/hsgate /usr/local/bin/hsgate
# The commented reference config, for `hsgate check` experiments; the real
# config is mounted at /etc/hsgate (a ConfigMap in Kubernetes).
COPY config/hsgate.example.toml config/example-jwks.json /usr/share/doc/hsgate/
# 65532 is distroless' "nonroot" user; numeric so that runAsNonRoot can be
# verified by the kubelet without reading /etc/passwd.
USER 65532:65532
# 8080: gateway (server.listen). 9090: admin (/healthz, /readyz, /metrics);
# admin.listen defaults to 127.0.0.1:9090, set "0.0.0.0:9090" for probes.
EXPOSE 8080 9090
# hsgate drains on SIGTERM: /readyz turns 503, in-flight requests get
# server.shutdown_grace (25s default), the audit sink is flushed, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hsgate"]
CMD ["serve", "--config", "/etc/hsgate/hsgate.toml"]
