# syntax=docker/dockerfile:1
# hookyard in a container (docs/operating.md, "Container"):
#   docker build -t hookyard .
#   docker run --rm -p 8080:8080 -v /etc/hookyard:/etc/hookyard:ro hookyard
# The build stage compiles the release binary; the runtime stage is Debian slim with it alone.

FROM rust:1-bookworm AS build
# gcc and libc headers: ring (rustls' crypto provider) builds C; protoc and the standard .proto
# files: the etcd client's build compiles its gRPC definitions.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev protobuf-compiler libprotobuf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p hookyard-proxy \
 && strip target/release/hookyard

FROM debian:bookworm-slim AS runtime
# ca-certificates: the system roots `https://` origins are verified against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/hookyard --create-home hookyard \
 && chmod 0700 /var/lib/hookyard
COPY --from=build /src/target/release/hookyard /usr/bin/hookyard
COPY packaging/docker/hookyard.yaml /etc/hookyard/hookyard.yaml
USER hookyard
EXPOSE 8080
# SIGTERM drains (drain.grace, then in-flight transactions) and exits 0: give `docker stop` a
# timeout above drain.deadline (`docker stop -t 45`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/hookyard"]
CMD ["run", "--config", "/etc/hookyard"]
