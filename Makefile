# The two commands a newcomer types are `make run` and `make test`; each
# installs what it needs by itself (Debian packages through apt-get, Go
# modules through the module proxy).

GO           ?= go
BIN          := bin/cunzheng
# The offline verifier on its own (cmd/cunzheng-verify); `cunzheng verify`
# hands over to it (see cmd/cunzheng/startup).
VERIFY_BIN   := bin/cunzheng-verify
DATA         ?= ./data
ADDR         ?= 127.0.0.1:8080
# Tools the tests run: pdfsig/pdftotext/pdftoppm (poppler-utils), openssl,
# PostgreSQL server binaries for the cluster-mode tests (postgresql), brotli to
# precompress the /verify module, Node to run it over the PDF corpus (nodejs),
# a C compiler for the start-up hand-over of `cunzheng verify` (gcc, libc6-dev;
# without one Go builds without cgo and verify runs in process).
APT_PACKAGES := poppler-utils openssl chromium fonts-wqy-microhei postgresql brotli nodejs gcc libc6-dev
# The S3 server the cluster-mode tests run (ledger/cluster/clustertest finds it here).
VERSITYGW    := bin/tools/versitygw
VERSITYGW_VERSION := v1.8.0

# The /verify page's local check: package verify for the browser
# (cmd/verifywasm), embedded by package web from web/wasm (see its README).
WASM_DIR     := web/wasm
WASM         := $(WASM_DIR)/verify.wasm
WASM_SRC     := $(shell find cmd/verifywasm verify ledger/tlogfmt web/verifyview web/templates -name '*.go' -o -name '*.html') go.mod go.sum

.PHONY: all build run test test-race bench lint deps tools clean wasm

all: build

# How the binary is built. nomsgpack leaves out gin's MessagePack binding
# (ugorji/go/codec and net/rpc: some 5,000 functions, 9 MB of the binary;
# the service takes no MessagePack), -s -w the symbol table and DWARF. Every
# process pays start-up in proportion to what is linked: `verify pdf` used
# 2-3 ms less CPU per file (of about 40) in interleaved perf stat runs.
BUILD_FLAGS  := -tags nomsgpack -trimpath -ldflags='-s -w'

# The verifier first, then the server binary with the verifier's Go build ID
# compiled into the start-up hand-over of `cunzheng verify` (only a file of
# that build is ever run): verifier_id.h, added to package startup with
# -overlay. The verifier is built without cgo: a static binary, no dynamic
# loader at start-up, and one file a court can copy.
build: wasm
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(VERIFY_BIN) ./cmd/cunzheng-verify
	printf '#define CUNZHENG_VERIFIER_ID "%s"\n' "$$($(GO) tool buildid $(VERIFY_BIN))" > bin/verifier_id.h
	printf '{"Replace": {"%s": "%s"}}\n' "$(CURDIR)/cmd/cunzheng/startup/verifier_id.h" "$(CURDIR)/bin/verifier_id.h" > bin/verifier_id.json
	$(GO) build $(BUILD_FLAGS) -overlay bin/verifier_id.json -o $(BIN) ./cmd/cunzheng

## wasm: the local check's module, its compressed copies and Go's loader.
wasm: $(WASM)

$(WASM): $(WASM_SRC)
	rm -f $(WASM) $(WASM).gz $(WASM).br $(WASM).sum
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $(WASM).tmp ./cmd/verifywasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WASM_DIR)/wasm_exec.js
	gzip -9 -n -c $(WASM).tmp > $(WASM).gz
	if command -v brotli >/dev/null; then brotli -q 9 -c $(WASM).tmp > $(WASM).br; fi
	sha256sum $(WASM).tmp | cut -d' ' -f1 > $(WASM).sum
	mv $(WASM).tmp $(WASM)

## run: build and start the whole service on its embedded defaults.
run: build
	./$(BIN) serve --data $(DATA) --addr $(ADDR) --demo

## test: vet, the whole suite, then the race detector on the fast tests.
test: deps tools wasm
	$(GO) vet ./...
	CUNZHENG_REQUIRE_WASM=1 CUNZHENG_REQUIRE_HANDOVER=1 $(GO) test -count=1 -timeout 15m ./...
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
