# apflow-wasm — build, test and demo entry points. `make help` lists the targets.

GO      ?= go
BIN     := bin/apflow
# staticcheck (release 2026.2.2 = module v0.8.2), pinned; `make setup` installs it into bin/tools (Go module proxy).
STATICCHECK_VERSION := 0.8.2
STATICCHECK := bin/tools/staticcheck
PLUGDIR := build/plugins
DEMO_HOME ?= $(CURDIR)/build/demo-home

.PHONY: help setup build generate-eval test test-cluster-engine test-short fuzz bench bench-e2e bench-scale bench-ab demo demo-multilang demo-schedule demo-patterns cluster-demo lint clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# Debian packages that build the C and Rust plugins and assemble the .wat test fixtures,
# PostgreSQL, which the PostgreSQL store's tests start (internal/pgtest), and Chromium, in which the
# dashboard's browser tests run (cmd/apflow/dashboard_test.go).
APT_PKGS := clang lld wasi-libc libclang-rt-dev-wasm32 rustc cargo libstd-rust-dev-wasm32 lld-14 wabt postgresql chromium

setup: ## install the plugin toolchains (apt, npm); needs root, idempotent
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@if [ -f sdk/assemblyscript/package-lock.json ]; then cd sdk/assemblyscript && npm ci --no-audit --no-fund --silent; fi
	@$(STATICCHECK) -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION))" || \
		GOBIN=$(CURDIR)/bin/tools $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)

# The host is pure Go: built without cgo, the binary is static (no libc, no dynamic
# loader at start; docs/decisions.md).
build: ## build the apflow binary into bin/ (static: CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/apflow

test: lint plugins example-plugins kits hooks ## run the whole test suite (race detector on), building every plugin first
	APFLOW_REQUIRE_KITS=1 APFLOW_REQUIRE_PG=1 APFLOW_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 25m ./...
	$(MAKE) --no-print-directory test-cluster-engine
	$(MAKE) --no-print-directory kits-test

test-cluster-engine: ## the engine's whole test suite again, each engine a cluster node on PostgreSQL
	APFLOW_ENGINE_CLUSTER=1 APFLOW_REQUIRE_PG=1 $(GO) test -race -count=1 -timeout 15m ./host/engine/

test-short: plugins ## quick tests (no multi-language kits, -short)
	$(GO) test -short -count=1 ./...

# Every fuzz target of the module in turn (go test -fuzz takes one at a time), FUZZTIME each.
# A worker that finds an input widening coverage first minimizes it, for up to FUZZMINIMIZE
# runs, and its runs are counted only when it is done: the rate go test prints drops
# meanwhile, to 0 execs/sec when every worker is minimizing. A failing input is written
# under the package's testdata/fuzz, where go test then runs it as a test. Every target
# is fuzzed even after one fails; the failed ones are listed at the end.
FUZZTIME     ?= 20s
FUZZMINIMIZE ?= 500x
fuzz: ## fuzz each Fuzz target of the module for FUZZTIME (20s), one after the other
	@failed=""; \
	for file in $$(grep -rl --include='*_test.go' --exclude-dir=build --exclude-dir=node_modules '^func Fuzz' . | sort); do \
	  for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
	    echo "== $$target ($$(dirname $$file))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$(dirname $$file) \
	      || failed="$$failed $$target($$(dirname $$file))"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

# Each line is one table of docs/performance.md; compare figures within one run.
BENCH = $(GO) test -run '^$$' -count=1
bench: plugins kits ## run the benchmarks recorded in docs/performance.md
	$(BENCH) -bench 'Wide10k$$|Chain1k$$|FanIn200$$|Fsync' -benchtime 1x ./host/engine/
	APFLOW_REQUIRE_PG=1 $(BENCH) -bench 'Backends|Takeover' -benchtime 1x -timeout 30m ./host/engine/
	$(BENCH) -bench 'WideWASM' -benchtime 2x ./cmd/apflow/
	$(BENCH) -bench 'DashboardTree10k' -benchtime 3x ./cmd/apflow/
	$(BENCH) -bench 'RoundTripRaw|ExecuteNoop|AcquirePooled|InstantiateFresh' -benchtime 20000x -benchmem ./host/sandbox/
	$(BENCH) -bench 'LoadColdCache' -benchtime 3x ./host/sandbox/
	$(BENCH) -bench 'LoadWarmCache|InstantiateEcho' -benchtime 30x -benchmem ./host/sandbox/
	$(BENCH) -bench 'Open|ProcessStart' -benchtime 10x ./host/registry/
	$(BENCH) -bench 'HookOverhead' -benchtime 300x ./host/hooks/
	$(BENCH) -bench 'Update|JournalCommit' -benchtime 3000x ./host/store/badgerstore/
	$(BENCH) -bench 'DeleteTree10k' -benchtime 3x ./host/store/badgerstore/
	$(BENCH) -bench 'QueueLogsWide' -benchtime 100x -benchmem ./host/store/badgerstore/
	$(BENCH) -bench 'MarshalJSON' -benchtime 200000x -benchmem ./host/task/
	$(BENCH) -bench 'TreeJSON' -benchtime 10x ./cmd/apflow/
	$(BENCH) -bench 'RunsPage100k' -benchtime 5x ./host/store/badgerstore/
	$(BENCH) -bench 'TasksGet|Execute1000' -benchtime 3x ./host/api/
	$(BENCH) -bench 'Answer' -benchtime 50x -benchmem ./host/api/
	$(BENCH) -bench 'Conformance|EchoPerLanguage' -benchtime 2000x ./examples/conformance/
	$(MAKE) --no-print-directory bench-e2e

# The product path end to end (cmd/apflow/internal/e2ebench): apflow run and apflow serve
# as processes on trees of echo executors (WAT, Go, Rust; C with -langs), each workload's table with the
# engine, wazero and fsync floors measured in the same run.
E2EBENCH = $(GO) run ./cmd/apflow/internal/e2ebench -bin $(BIN) -plugins $(PLUGDIR) -go $(GO)
# 100,000 tasks with the WAT echo only here (one such child takes minutes on a shared
# machine); bench-scale runs it with the Go and Rust echoes.
bench-e2e: build kits ## the product path end to end: apflow run and serve on trees of echo plugins, beside the engine's floors
	$(E2EBENCH) -only '^(wide-1k|aggregate-1k|chain-200|diamond-100|wide-10k)$$' -rounds 3
	$(E2EBENCH) -only '^wide-100k$$' -langs wat
	$(E2EBENCH) -only '^(wide-1k|chain-200)$$' -langs wat -modes run,rerun
	$(E2EBENCH) -only '^(wide-1k|chain-200|diamond-100)$$' -modes serve,warm -rounds 3

# Two builds side by side: this one against AGAINST (another apflow binary, e.g. after
# `git worktree add /tmp/base HEAD~1 && make -C /tmp/base build`, AGAINST=/tmp/base/bin/apflow),
# child by child, six rounds; AB_ONLY and AB_LANGS pick the workloads and echoes.
AB_ONLY  ?= ^(wide-1k|chain-200|wide-10k)$$
AB_LANGS ?= wat
bench-ab: build kits ## this build against AGAINST=<apflow binary>, child by child (e2ebench -against)
	@test -n "$(AGAINST)" || (echo "make bench-ab AGAINST=<path of the other apflow binary>"; exit 1)
	$(E2EBENCH) -against $(AGAINST) -only '$(AB_ONLY)' -langs $(AB_LANGS) -modes run,serve -rounds 6 -no-floors

# About an hour here: its last line alone is twelve million-task children (wide and
# layered; WAT, Go and Rust echoes; apflow run and apflow serve), three to five minutes each.
bench-scale: build kits ## the engine at 10x size, heap per task, 1M-task trees in the engine (memstore) and through the product path
	$(BENCH) -bench 'Wide10k$$|Wide100k$$|Chain1k$$|Chain10k$$|FanIn200$$|FanIn2000$$|WideHeap' -benchtime 1x ./host/engine/
	APFLOW_SCALE=1 $(GO) test -count=1 -run 'TestScale$$' -v -timeout 60m ./host/engine/
	$(E2EBENCH) -only '^wide-100k$$' -langs go,rust
	$(E2EBENCH) -scale

demo: build plugins ## run the demo tree through real WASM plugins, with live progress
	rm -rf $(DEMO_HOME)
	$(BIN) run --data-dir $(DEMO_HOME) --plugins $(PLUGDIR) --config examples/demo/config.json examples/demo/tree.json

demo-multilang: build plugins kits ## run the multi-language demo (Go, Rust, C and AssemblyScript plugins)
	rm -rf $(DEMO_HOME)-multilang
	$(BIN) run --data-dir $(DEMO_HOME)-multilang --plugins $(PLUGDIR) examples/multilang/tree.json

demo-schedule: build plugins ## apflow serve runs a scheduled tree every 3 s until its max_runs (4), then stops
	BIN=$(BIN) PLUGDIR=$(PLUGDIR) examples/schedule/demo.sh

demo-patterns: build example-plugins ## a flaky plugin retried by the engine and a cached executor, run twice (examples/patterns)
	rm -rf $(DEMO_HOME)-patterns
	@echo "== first run: prices fails twice and is retried; primes computes"
	$(BIN) run --data-dir $(DEMO_HOME)-patterns --plugins $(EXAMPLEDIR) --config examples/patterns/config.json examples/patterns/tree.json
	@echo "== second run (a new process, a new tree): primes answers from the cache"
	$(BIN) run --data-dir $(DEMO_HOME)-patterns --plugins $(EXAMPLEDIR) --config examples/patterns/config.json examples/patterns/tree.json

cluster-demo: build plugins ## three apflow serve nodes on a throw-away PostgreSQL share a 60-task tree
	examples/cluster/demo.sh

lint: ## gofmt (must list no file), go vet and staticcheck (installed by `make setup`)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt -l lists:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@test -x $(STATICCHECK) || (echo "staticcheck missing: run make setup"; exit 1)
	$(STATICCHECK) ./...

# The evaluation set of apflow generate (examples/generate/cases) against the language model
# the operator config names (GENERATE_CONFIG; default apflow's own config), scored per case.
GENERATE_MODE   ?= multi
GENERATE_CONFIG ?=
generate-eval: build ## score apflow generate on examples/generate against the configured model (docs/generate.md)
	$(GO) run ./cmd/apflow/internal/generateeval -bin $(BIN) -plugins $(PLUGDIR) -mode $(GENERATE_MODE) $(if $(GENERATE_CONFIG),-config $(GENERATE_CONFIG))

clean: ## remove build outputs
	rm -rf bin build

include plugins.mk
include kits.mk
include hooks.mk
