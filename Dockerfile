# rdsexport in a container: a static binary (CGO_ENABLED=0) on distroless,
# running as a non-root user. See README.md, "Container".
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t rdsexport .
#   docker run -p 4566:4566 -v rdsexport-data:/data rdsexport
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rdsexport ./cmd/rdsexport \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rdsexport /usr/local/bin/rdsexport
# The data directory belongs to the image's user, so a new volume does too.
COPY --from=build --chown=65532:65532 /out/data /data
# Defaults for a container; a configuration file (RDSEXPORT_CONFIG, mounted)
# or -e variables change the rest. Variables override the file.
ENV RDSEXPORT_LISTEN=0.0.0.0:4566 \
    RDSEXPORT_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 4566
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/rdsexport"]
CMD ["serve"]
