# rdsexport — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
GOTESTFLAGS ?=
FUZZTIME ?= 30s
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: help build docker run demo test test-unit lint golden bench bench-micro fuzz db-up db-down ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/rdsexport
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/rdsexport ./cmd/rdsexport

demo: ## run the server against a demo database in the local PostgreSQL, embedded S3 in ./data
	$(GO) run ./cmd/rdsexport demo

docker: ## build the container image rdsexport:$(VERSION) (needs a Docker daemon)
	docker build --build-arg VERSION=$(VERSION) -t rdsexport:$(VERSION) .

db-up: ## check the local PostgreSQL and MariaDB; start or install them if needed
	scripts/dev-db.sh up

db-down: ## stop the local databases
	scripts/dev-db.sh down

# Tools are installed into .bin/ at pinned versions.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := .bin/staticcheck-$(STATICCHECK_VERSION)

$(STATICCHECK):
	GOBIN=$(CURDIR)/.bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv .bin/staticcheck $@

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck, go mod tidy check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) mod tidy -diff

test-unit: ## fast tests that need no database
	$(GO) test -short $(GOTESTFLAGS) ./...

test: db-up ## everything CI runs: lint, all tests (with the race detector) against real PostgreSQL, MariaDB, S3 servers, the AWS CLI and boto3, one pass of every benchmark
	scripts/versitygw.sh
	$(MAKE) lint
	$(GO) test -race -count=1 -timeout 45m $(GOTESTFLAGS) ./...
	scripts/cli-test.sh
	$(GO) test -run '^$$' -bench . -benchtime 1x ./... > /dev/null

golden: ## rewrite the golden XML files (review the diff!)
	$(GO) test ./internal/awsquery -update

bench: ## the eight targets of the performance issue in one run, one table line each with PASS/FAIL (knobs ROWS RUNS TABLE CONNECTIONS TARGETS SCALES ...: see scripts/bench.sh)
	scripts/bench.sh

bench-micro: ## Go micro-benchmarks (compare runs with benchstat)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every Fuzz* target for FUZZTIME each (default 30s); the seeds in testdata/fuzz run with go test
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
		pkg=./$$(dirname "$${f#./}"); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "== $$pkg $$fn ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

ci: test ## same as test

clean: ## remove build output
	rm -rf bin .bin data
