# The two commands a newcomer types are `make run` and `make test`; each
# installs what it needs by itself (Debian packages through apt-get, Go
# modules through the module proxy).

GO           ?= go
BIN          := bin/cunzheng
DATA         ?= ./data
ADDR         ?= 127.0.0.1:8080
# Tools the tests run: pdfsig/pdftotext/pdftoppm (poppler-utils), openssl,
# PostgreSQL server binaries for the cluster-mode tests (postgresql).
APT_PACKAGES := poppler-utils openssl chromium fonts-wqy-microhei postgresql
# The S3 server the cluster-mode tests run (ledger/cluster/clustertest finds it here).
VERSITYGW    := bin/tools/versitygw
VERSITYGW_VERSION := v1.8.0

.PHONY: all build run test test-race bench lint deps tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cunzheng

## run: build and start the whole service on its embedded defaults.
run: build
	./$(BIN) serve --data $(DATA) --addr $(ADDR) --demo

## test: vet, the whole suite, then the race detector on the fast tests.
test: deps tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -race -short -timeout 15m ./...

## bench: Go benchmarks of the hot paths, then the ledger benchmark.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...
	./$(BIN) bench ledger --entries 500000 --clients 64

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## deps: install the Debian packages the tests need, only if missing.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## tools: Go-built servers the tests run, installed into bin/tools only if missing.
tools: $(VERSITYGW)

$(VERSITYGW):
	GOBIN=$(CURDIR)/bin/tools $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

clean:
	rm -rf bin
