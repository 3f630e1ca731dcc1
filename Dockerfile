# cvmlogin container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t cvmlogin .
#   docker run --env-file .env -p 127.0.0.1:8080:8080 cvmlogin
#
# See docker-compose.yml for the bot with its Redis, and .env.example for the
# environment variables.

# Build on the build host's platform and cross-compile for the target one, so
# that multi-platform builds (docker buildx --platform) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Module downloads get their own layer: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
# VERSION and REVISION end up in `cvmlogin version` and the
# cvmlogin_build_info metric.
ARG VERSION=dev
ARG REVISION=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.revision=$REVISION" -o /out/cvmlogin ./cmd/cvmlogin

# Distroless: no shell, no package manager, CA certificates for the Tencent
# Cloud and Slack APIs, and the unprivileged "nonroot" user (65532). The
# HEALTHCHECK needs no HTTP client in the image: the binary probes /healthz
# itself (cvmlogin healthcheck).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cvmlogin" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.description="Slack bot that diagnoses and fixes CVM login problems" \
      org.opencontainers.image.version="$VERSION"
COPY --from=build /out/cvmlogin /cvmlogin
USER 65532:65532
# http.listen: /healthz, /readyz, /metrics, and the Slack endpoints in HTTP mode.
EXPOSE 8080
# Liveness only (/healthz). Orchestrators should also use /readyz, which
# fails while Redis or Slack is unreachable. Change the port here if you
# change CVMLOGIN_HTTP_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/cvmlogin", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/cvmlogin"]
CMD ["serve"]
