# engaged: a static binary on a distroless base, running as a non-root user.
#   docker build -t engaged --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run --rm engaged help
# The build stage's Go matches the go directive of go.mod (checked by
# `go test ./deploy`); GOTOOLCHAIN=local keeps the build from fetching another.

FROM golang:1.26 AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
# The Go client is a module of its own that go.mod replaces with ./client.
COPY client/go.mod client/go.sum ./client/
RUN go mod download
COPY . .
# What `engaged version` and engaged_build_info report. The build context
# has no .git (and GOFLAGS may say -buildvcs=false), so the toolchain cannot
# stamp it: pass the tag or commit in (the Makefile's VERSION and REVISION).
ARG VERSION=unknown
ARG REVISION=unknown
# Only the server: the load tool (cmd/engaged-bench) is not part of the image.
RUN go build -trimpath -ldflags="-s -w -X main.stampVersion=${VERSION} -X main.stampRevision=${REVISION}" \
      -o /out/engaged ./cmd/engaged \
 && mkdir -p /out/data

# static-debian12 has CA certificates (for TLS to NATS and Postgres), tzdata
# and the nonroot user (uid 65532), and nothing else: no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/engaged /usr/local/bin/
# The data directory holds the generated pixel key when ENGAGED_PIXEL_SECRET
# is unset, and the JetStream store in embedded mode.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ENGAGED_HTTP_ADDR=:8080 \
    ENGAGED_DATA_DIR=/data \
    ENGAGED_NATS_LISTEN=
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
    CMD ["engaged", "healthcheck"]
ENTRYPOINT ["engaged"]
CMD ["serve"]
