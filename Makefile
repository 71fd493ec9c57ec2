# sfbridge — run `make help` for the targets.
GO       ?= go
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/sfbridge/sfbridge/internal/cli.version=$(VERSION)

.PHONY: help build test bench lint services demo

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/sfbridge
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sfbridge ./cmd/sfbridge

services: ## start PostgreSQL and NATS if they are not running (idempotent)
	scripts/services.sh

test: services ## bring up services, then vet, gofmt check and all tests with -race
	$(GO) vet $(PKGS)
	@out=$$(find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*' | xargs gofmt -l); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

bench: services ## run the benchmarks and write docs/benchmarks.md
	scripts/bench.sh

lint: ## go vet and gofmt check
	$(GO) vet $(PKGS)
	@out=$$(find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*' | xargs gofmt -l); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

demo: ## run the demo: Postgres sample data → embedded queue → Salesforce emulator, dashboard URL printed
	scripts/services.sh
	$(GO) run ./cmd/sfbridge demo
