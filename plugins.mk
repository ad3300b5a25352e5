# Go plugins: `make plugins` builds every first-party executor in plugins/<id>/ to
# build/plugins/<id>.wasm, `make example-plugins` the Go examples to build/examples/.
# Included by the top-level Makefile. go build's cache makes unchanged plugins cheap, so
# the targets always run go build rather than tracking Go sources in make.

GO             ?= go
PLUGDIR        ?= build/plugins
EXAMPLEDIR     ?= build/examples
GO_PLUGINS     := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
GO_EXAMPLES    := $(patsubst examples/plugins/go/%/main.go,%,$(wildcard examples/plugins/go/*/main.go))
WASM_GO_BUILD  := GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath

.PHONY: plugins example-plugins plugins-test

plugins: ## build every Go plugin to build/plugins/<id>.wasm
	@mkdir -p $(PLUGDIR)
	@for p in $(GO_PLUGINS); do \
		echo "  wasm  $(PLUGDIR)/$$p.wasm"; \
		$(WASM_GO_BUILD) -o $(PLUGDIR)/$$p.wasm ./plugins/$$p || exit 1; \
	done

example-plugins: ## build the Go example plugins to build/examples/<id>.wasm
	@mkdir -p $(EXAMPLEDIR)
	@for p in $(GO_EXAMPLES); do \
		echo "  wasm  $(EXAMPLEDIR)/$$p.wasm"; \
		$(WASM_GO_BUILD) -o $(EXAMPLEDIR)/$$p.wasm ./examples/plugins/go/$$p || exit 1; \
	done

plugins-test: ## test the Go SDK, the plugins (natively and through the sandbox) and the examples
	$(GO) test -race -count=1 ./sdk/go/... ./plugins/... ./examples/...
