# hooks.mk — builds the example hooks of examples/hooks (included by Makefile).
#
#   make hooks        every example hook -> build/plugins/<name>.wasm
#   make hooks-test   their tests (build them for wasip1 and run them through the real
#                     sandbox, registry, hook runner and engine)
#
# Each hook is a Go program using the Go SDK (sdk/go, package hook); it is built as a
# WASI reactor (-buildmode=c-shared). Grants each one needs are in its package comment
# and in docs/hooks.md.

HOOKS_OUT ?= build/plugins
HOOKS_GO  ?= go
HOOKS     := validate_user metrics priority_by_load flaky

.PHONY: hooks hooks-test

hooks:
	@mkdir -p $(HOOKS_OUT)
	@set -e; for h in $(HOOKS); do \
	  echo "hook  $$h"; \
	  GOOS=wasip1 GOARCH=wasm $(HOOKS_GO) build -buildmode=c-shared -o $(HOOKS_OUT)/$$h.wasm ./examples/hooks/$$h; \
	done

hooks-test:
	$(HOOKS_GO) test -race -count=1 ./examples/hooks/ ./host/hooks/
