# Everything installs itself: Go is the only prerequisite (ocb and mdatagen come from the
# Go module proxy at pinned versions).
GO        ?= go
OCB_VERSION := v0.145.0
BUILD_DIR := _build
BIN_DIR   := bin
OCB       := $(BIN_DIR)/ocb-$(OCB_VERSION)
COLLECTOR := $(BUILD_DIR)/otelcol-k8snetio
PKGS      := ./...

.PHONY: all test vet fmt-check browser-check unit e2e bench bench-compare bench-collector fuzz generate collector tools demo clean

all: test

## test: vet, gofmt and the race tests, including the end-to-end test against the built collector;
## then the Splunk app's searches against the events that test received over HEC
E2E_EVENTS := $(BUILD_DIR)/e2e-events
test: vet fmt-check browser-check collector tools
	rm -rf $(E2E_EVENTS) && mkdir -p $(E2E_EVENTS)
	K8SNETIO_COLLECTOR=$(abspath $(COLLECTOR)) K8SNETIO_BIN=$(abspath $(BIN_DIR)) K8SNETIO_E2E_EVENTS_DIR=$(abspath $(E2E_EVENTS)) \
		$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@for f in $(E2E_EVENTS)/events-*.jsonl; do \
		[ -s "$$f" ] || { echo "no events kept from the end-to-end test in $(E2E_EVENTS)"; exit 1; }; \
		echo "Splunk app's fields against $$f"; \
		K8SNETIO_SPLUNK_EVENTS=$(abspath .)/$$f $(GO) test -count=1 -run '^TestSplunkFieldsExist$$' ./examples/ || exit 1; \
	done

## e2e: only the end-to-end tests against the built collector
e2e: collector tools
	K8SNETIO_COLLECTOR=$(abspath $(COLLECTOR)) K8SNETIO_BIN=$(abspath $(BIN_DIR)) \
		$(GO) test -race -count=1 -timeout 20m ./e2e/ ./examples/

## unit: the tests without building the collector (the end-to-end test skips itself)
unit: vet fmt-check browser-check
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# go test prints no skip message without -v, so say here that the report's browser test will skip.
browser-check:
	@command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 || \
		echo "note: chromium-headless-shell not installed: TestReportInBrowser (internal/evalreport) will skip; 'apt-get install chromium-headless-shell' to run it"

## bench: the engine on fresh batches of 1k, 10k and 100k pods next to the bare-walk floor
## (ns, allocations per data point, heap per pod), the two in turns on the same batches (their
## ratio), and the processor with the floor on what kubeletstats sends; a fixed number of
## scrapes per size keeps it to a few minutes
BENCH_RUN = $(GO) test -run '^$$' -benchmem -count $(BENCHCOUNT) ./internal/engine/ -bench
BENCHCOUNT ?= 1
bench:
	$(BENCH_RUN) '^(BenchmarkConsumeMetrics|BenchmarkBareWalk)$$/^pods=1000$$' -benchtime 300x
	$(BENCH_RUN) '^(BenchmarkConsumeMetrics|BenchmarkBareWalk)$$/^pods=10000$$' -benchtime 40x
	$(BENCH_RUN) '^(BenchmarkConsumeMetrics|BenchmarkBareWalk)$$/^pods=100000$$' -benchtime 6x
	$(BENCH_RUN) '^BenchmarkConsumeMetricsAllAnomalous$$' -benchtime 40x
	$(BENCH_RUN) '^BenchmarkConsumeMetricsFastScrape$$' -benchtime 40x
	$(BENCH_RUN) '^BenchmarkEngineOverFloor$$/^pods=(1000|10000)$$' -benchtime 60x
	$(BENCH_RUN) '^BenchmarkEngineOverFloor$$/^pods=100000$$' -benchtime 6x
	$(BENCH_RUN) '^BenchmarkEngineOverFloorShuffled$$' -benchtime 60x
	$(GO) test -run '^$$' -count $(BENCHCOUNT) ./e2e/ -bench '^BenchmarkProcessorOnKubeletstats$$' -benchtime 40x

## bench-compare: this tree's engine and processor against commit BASE's (default the one before
## HEAD), their benchmark binaries in turns, RUNS times each: the medians of their ratios to the floor
## (the engine on network-only batches of PODS pods: 1000, 10000 or 100000)
BASE ?= HEAD~1
RUNS ?= 5
PODS ?= 10000
bench-compare:
	GO=$(GO) scripts/bench-compare $(BASE) $(RUNS) $(PODS)

## bench-collector: the built collector as a gateway with and without the component, fed what
## kubeletstats sends for 10 000 pods, its metrics going to nop and over OTLP (CPU time from /proc,
## so the sender and the OTLP sink are not counted); about ten minutes per count on 2 cores
BENCHSCRAPES ?= 60
bench-collector: collector tools
	K8SNETIO_COLLECTOR=$(abspath $(COLLECTOR)) K8SNETIO_BIN=$(abspath $(BIN_DIR)) \
		$(GO) test -run '^$$' -bench '^BenchmarkCollector$$' -benchtime $(BENCHSCRAPES)x -count $(BENCHCOUNT) -timeout 60m ./e2e/

## fuzz: fuzz the ingest path, the two file parsers and the uid parser, FUZZTIME each (make test runs only their seeds)
FUZZTIME ?= 1m
# Go minimizes each new input for up to a minute by default: the ingest fuzzer, whose inputs are
# whole OTLP requests, then spent its whole time minimizing and ran a dozen new inputs a minute.
FUZZ_RUN = $(GO) test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
fuzz:
	$(FUZZ_RUN) -fuzz '^FuzzConsumeMetrics$$' ./internal/engine/
	$(FUZZ_RUN) -fuzz '^FuzzParseUID$$' ./internal/engine/
	$(FUZZ_RUN) -fuzz '^FuzzRestoreState$$' ./internal/engine/
	$(FUZZ_RUN) -fuzz '^FuzzParse$$' ./internal/baseline/
	$(FUZZ_RUN) -fuzz '^FuzzReadCSV$$' ./internal/learn/

## generate: regenerate mdatagen output after editing a metadata.yaml
generate:
	cd processor/k8snetioanomalyprocessor && $(GO) tool mdatagen metadata.yaml
	cd connector/k8snetioanomalyconnector && $(GO) tool mdatagen metadata.yaml

## tools: the project's own binaries (k8snetio, kubeletsim) into bin/
tools:
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

$(OCB):
	mkdir -p $(BIN_DIR)
	GOBIN=$(abspath $(BIN_DIR)) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(BIN_DIR)/builder $(OCB)

## collector: the custom collector built by ocb from builder-config.yaml (reused when up to date)
collector: $(COLLECTOR)

COMPONENT_SOURCES := $(shell find processor connector internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

$(COLLECTOR): builder-config.yaml $(COMPONENT_SOURCES) | $(OCB)
	$(OCB) --config builder-config.yaml
	@touch $(COLLECTOR)

## demo: the simulated cluster, the collector and a HEC endpoint; shows anomaly events live
demo: collector tools
	./examples/demo/run.sh

clean:
	rm -rf $(BUILD_DIR) $(BIN_DIR)
