package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfile checks the image's contract without a Docker daemon: a
// static build, port 4566, the data volume, variables the server reads;
// building the image itself would pull its base images, which tests never
// do.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "\nEXPOSE 4566\n", `VOLUME ["/data"]`, `CMD ["serve"]`, "-X main.version=${VERSION}"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	var known []string
	for _, e := range envHelp {
		known = append(known, e[0])
	}
	for _, m := range regexp.MustCompile(`(RDSEXPORT_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(text, -1) {
		if !slices.Contains(known, m[1]) {
			t.Errorf("Dockerfile sets %s, which the server does not read", m[1])
		}
	}
	if !strings.Contains(text, "RDSEXPORT_DATA_DIR=/data") || !strings.Contains(text, "RDSEXPORT_LISTEN=0.0.0.0:4566") {
		t.Error("the image must listen on 0.0.0.0:4566 and keep its data in /data")
	}
	if !regexp.MustCompile(`RUN CGO_ENABLED=0 go build [^\n]*-o /out/rdsexport \./cmd/rdsexport`).MatchString(text) {
		t.Error("the Dockerfile does not build ./cmd/rdsexport into /out/rdsexport")
	}
}
