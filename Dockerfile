# syntax=docker/dockerfile:1
# Build: a release binary with the locked dependency tree.
FROM rust:1-bookworm AS build
WORKDIR /src
# aws-lc-rs compiles its C code with the image's gcc; nothing else is needed.
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY src ./src
COPY config ./config
RUN cargo build --release --locked && strip target/release/hsgate

# Run: a small image with CA roots for the optional web roots, as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hsgate
COPY --from=build /src/target/release/hsgate /usr/local/bin/hsgate
COPY config/hsgate.example.toml /etc/hsgate/hsgate.example.toml
USER 10001:10001
# 8080: gateway; 9090: admin (/healthz, /readyz, /metrics). Set [admin] listen to 0.0.0.0:9090 for probes.
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hsgate"]
CMD ["serve", "--config", "/etc/hsgate/hsgate.toml"]
