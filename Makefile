# Glassbox — build, test, lint, bench. Targets are small on purpose; each
# says what it runs so a failing CI step can be re-run by hand.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/glassbox-dev/glassbox.Version=$(VERSION)
STATICCHECK_VERSION := v0.7.0
FUZZTIME  ?= 10s

.PHONY: all build demo test test-short lint fuzz bench bench-quick clean

all: lint test build

## build: compile bin/glassbox with the version injected
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/glassbox ./cmd/glassbox

## demo: run the built-in example model behind the gateway and show the captures
demo:
	$(GO) run ./cmd/glassbox demo

## test: every test, race detector on; scripts/test.sh starts moto_server for the S3 tests
test:
	bash scripts/test.sh -race -count=1 ./...

## test-short: quick tests only (skips the ones that build and run the binary)
test-short:
	$(GO) test -short ./...

## lint: gofmt check, go vet, staticcheck
lint: bin/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	bin/staticcheck ./...

bin/staticcheck:
	GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## fuzz: run each fuzz target for FUZZTIME (default 10s)
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh \
	  ./internal/config/:FuzzParse \
	  ./internal/capture/:FuzzDecodeRecord \
	  ./internal/capture/:FuzzRecordPayload \
	  ./internal/capture/:FuzzAppendLine \
	  ./internal/capture/:FuzzScanSegment \
	  ./internal/capture/:FuzzDecodeFast \
	  ./internal/monitor/:FuzzAssembleCSV \
	  ./internal/monitor/:FuzzAssembleJSON \
	  ./internal/monitor/:FuzzParseSchedule \
	  ./internal/monitor/:FuzzProfileDataset \
	  ./internal/monitor/:FuzzReadBaseline \
	  ./internal/redact/:FuzzRedact \
	  ./internal/keys/:FuzzDecrypt \
	  ./internal/digest/:FuzzParseDigest

## bench: gateway load benchmark (direct / plain proxy / glassbox off / async / sync / indexed capture), uploader throughput, capture-index lookups, monitor throughput/memory vs the decode floor and DuckDB, decrypt+read vs plain read, Go benchmarks
bench:
	$(GO) run ./tools/gwbench -out docs/bench-gateway-latest.md
	$(GO) run ./tools/uploadbench -out docs/bench-upload-latest.md
	$(GO) run ./tools/indexbench -n 2000000 -out docs/bench-index-latest.md   # 10M: see docs/benchmarks.md
	$(GO) run ./tools/monitorbench -out docs/bench-monitor-latest.md
	$(GO) run ./tools/protectbench
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/...

## bench-quick: smoke runs of the gateway, monitor and protect benchmarks
bench-quick:
	$(GO) run ./tools/gwbench -quick
	$(GO) run ./tools/monitorbench -quick
	$(GO) run ./tools/protectbench -quick

clean:
	rm -rf bin glassbox-demo
