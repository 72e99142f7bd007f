# syntax=docker/dockerfile:1
# ferryd (and the ferry CLI) in a small image that runs as a non-root user.
#   docker build -t ferry .
#   docker run -p 8080:8080 -e FERRY_JWT_SECRET=... -v ferry-data:/data ferry
# The health check runs `ferryd probe`, which asks the server's own /readyz.
# For PostgreSQL and an S3 bucket, see docker-compose.yml and deploy/.

FROM rust:1.95-slim-bookworm AS build
# jemalloc, ferryd's allocator, is built with make.
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY proto ./proto
COPY cli ./cli
COPY benches ./benches
COPY src ./src
COPY migrations ./migrations
COPY docs ./docs
COPY clients/js/src ./clients/js/src
COPY clients/js/page ./clients/js/page
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ferry --bin ferryd -p ferry-cli --bin ferry \
    && mkdir -p /out/data \
    && cp target/release/ferryd target/release/ferry /out/

# glibc, CA certificates and a `nonroot` user (65532), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ferryd /out/ferry /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV FERRY_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/ferry.db \
    FERRY_STORE=/data/objects \
    FERRY_LOG_FORMAT=json \
    FERRY_SHUTDOWN_GRACE=20s
EXPOSE 8080
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/ferryd", "probe", "--path", "/readyz", "--timeout", "4s"]
ENTRYPOINT ["/usr/local/bin/ferryd"]
