# ferryd in a small image. Build: docker build -t ferry .
# Run:   docker run -p 8080:8080 -v ferry-data:/data ferry
# Probes: GET /healthz (alive) and GET /readyz (database and store answer).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY proto ./proto
COPY cli ./cli
COPY src ./src
COPY migrations ./migrations
COPY docs ./docs
RUN cargo build --release --locked -p ferry --bin ferryd -p ferry-cli --bin ferry

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data ferry \
    && mkdir -p /data && chown ferry /data
COPY --from=build /src/target/release/ferryd /src/target/release/ferry /usr/local/bin/
USER ferry
WORKDIR /data
ENV FERRY_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/ferry.db \
    FERRY_STORE=/data/objects
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/ferryd"]
