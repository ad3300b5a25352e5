# kits.mk — builds the plugin kits' examples and conformance plugins (included by Makefile).
#
#   make kits          every example, template, conformance plugin and kit example hook
#                      (examples/hooks/{rust,c,assemblyscript}) -> build/plugins/*.wasm
#   make kits-go | kits-rust | kits-c | kits-assemblyscript   one language
#   make kits-cases    bin/apflow test runs each template's cases.json against its built
#                      module (kits-rust, kits-c and kits-assemblyscript run their own)
#   make kits-test     the kits' own unit tests (Rust natively, C natively, AssemblyScript)
#                      and the Rust example hook's; the hooks run through the host in
#                      `go test ./examples/hooks/` (kits_test.go)
#   make toolchains    which toolchains are missing, and the package that installs each
#
# Toolchains (Debian): clang lld wasi-libc libclang-rt-dev-wasm32 rustc cargo
# libstd-rust-dev-wasm32 lld-14 wabt; node + npm for AssemblyScript (assemblyscript is
# pinned in each package-lock.json and installed with `npm ci`, no global install).
# Rust must be Debian's /usr/bin/rustc (it has the wasm32-wasi std); a rustup toolchain on
# PATH usually has not, hence the absolute defaults below. Cargo runs --offline: the Rust
# kit has no dependencies.

KITS_OUT      ?= build/plugins
KITS_CARGO    ?= /usr/bin/cargo
KITS_RUSTC    ?= /usr/bin/rustc
KITS_RUSTDOC  ?= /usr/bin/rustdoc
KITS_CC       ?= clang
KITS_NPM      ?= npm
KITS_GO       ?= go
KITS_WAT2WASM ?= wat2wasm
KITS_CARGO_DIR = $(abspath build/cargo)

KITS_CFLAGS = --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror -I sdk/c -Wl,--strip-all

# Rust crates (crate name = output name).
KITS_RUST_CRATES = examples/conformance/rust examples/echo/rust examples/plugins/rust/word_freq examples/plugins/rust/template \
                   examples/hooks/rust
KITS_RUST_NAMES  = conformance_rust echo_rust word_freq template_rust hook_rust
# C plugins: output name:source.
KITS_C_PLUGINS = conformance_c:examples/conformance/c/conformance.c \
                 echo_c:examples/echo/c/echo.c \
                 checksum:examples/plugins/c/checksum/checksum.c \
                 template_c:examples/plugins/c/template/plugin.c \
                 hook_c:examples/hooks/c/hook_c.c
# AssemblyScript packages: output name:directory (each has an `asbuild` npm script).
KITS_AS_PLUGINS = conformance_assemblyscript:examples/conformance/assemblyscript \
                  numeric_stats:examples/plugins/assemblyscript/numeric_stats \
                  template_assemblyscript:examples/plugins/assemblyscript/template \
                  hook_assemblyscript:examples/hooks/assemblyscript
# Templates with a cases.json, run by `apflow test`: output name:directory.
KITS_CASES = template_rust:examples/plugins/rust/template template_c:examples/plugins/c/template echo_c:examples/echo/c \
             template_assemblyscript:examples/plugins/assemblyscript/template
# kit_cases runs the cases of the templates whose output name matches $(1).
kit_cases = set -e; for p in $(filter $(1),$(KITS_CASES)); do \
	  name=$${p%%:*}; dir=$${p\#*:}; \
	  $(BIN) test $(KITS_OUT)/$$name.wasm $$dir/cases.json; \
	done

# Go: output name:package.
KITS_GO_PLUGINS = conformance_go:./examples/conformance/go echo_go:./examples/echo/go

.PHONY: kits kits-go kits-rust kits-c kits-assemblyscript kits-wat kits-cases kits-test kits-clean toolchains

# toolchains first: a missing tool is reported with the package that installs it.
kits: toolchains kits-go kits-rust kits-c kits-assemblyscript kits-wat

$(KITS_OUT):
	@mkdir -p $@

kits-go: | $(KITS_OUT)
	@set -e; for p in $(KITS_GO_PLUGINS); do \
	  name=$${p%%:*}; pkg=$${p#*:}; \
	  echo "go    $$name"; \
	  GOOS=wasip1 GOARCH=wasm $(KITS_GO) build -buildmode=c-shared -o $(KITS_OUT)/$$name.wasm $$pkg; \
	done

kits-rust: build | $(KITS_OUT)
	@set -e; for d in $(KITS_RUST_CRATES); do \
	  echo "rust  $$d"; \
	  RUSTC=$(KITS_RUSTC) CARGO_TARGET_DIR=$(KITS_CARGO_DIR) $(KITS_CARGO) build -q --offline --release \
	    --target wasm32-wasi --manifest-path $$d/Cargo.toml; \
	done; \
	for n in $(KITS_RUST_NAMES); do cp $(KITS_CARGO_DIR)/wasm32-wasi/release/$$n.wasm $(KITS_OUT)/$$n.wasm; done
	@$(call kit_cases,template_rust:%)

kits-c: build | $(KITS_OUT)
	@set -e; for p in $(KITS_C_PLUGINS); do \
	  name=$${p%%:*}; src=$${p#*:}; \
	  echo "c     $$name"; \
	  $(KITS_CC) $(KITS_CFLAGS) -o $(KITS_OUT)/$$name.wasm $$src sdk/c/apflow.c; \
	done
	@$(call kit_cases,template_c:% echo_c:%)

# node_modules is installed once per package with `npm ci` (delete it to reinstall).
kits-assemblyscript: build | $(KITS_OUT)
	@set -e; for p in $(KITS_AS_PLUGINS); do \
	  name=$${p%%:*}; dir=$${p#*:}; \
	  echo "as    $$name"; \
	  test -d $$dir/node_modules || (cd $$dir && $(KITS_NPM) ci --no-audit --no-fund --loglevel=error); \
	  (cd $$dir && $(KITS_NPM) run -s asbuild); \
	  cp $$dir/build/$$name.wasm $(KITS_OUT)/$$name.wasm; \
	done
	@$(call kit_cases,template_assemblyscript:%)

kits-wat: | $(KITS_OUT)
	@echo "wat   minimal_wat"; $(KITS_WAT2WASM) examples/plugins/wat/minimal.wat -o $(KITS_OUT)/minimal_wat.wasm

kits-cases: build
	@$(call kit_cases,%)

kits-test:
	cd sdk/rust && RUSTC=$(KITS_RUSTC) RUSTDOC=$(KITS_RUSTDOC) CARGO_TARGET_DIR=$(KITS_CARGO_DIR)/native $(KITS_CARGO) test -q --offline
	RUSTC=$(KITS_RUSTC) RUSTDOC=$(KITS_RUSTDOC) CARGO_TARGET_DIR=$(KITS_CARGO_DIR)/native $(KITS_CARGO) test -q --offline \
	  --manifest-path examples/hooks/rust/Cargo.toml
	$(KITS_CC) -Wall -Wextra -Werror -fsanitize=address,undefined -I sdk/c -o build/apflow_c_test \
	  sdk/c/test/apflow_test.c sdk/c/apflow.c -lm && ./build/apflow_c_test
	cd sdk/assemblyscript && (test -d node_modules || $(KITS_NPM) ci --no-audit --no-fund --loglevel=error) && $(KITS_NPM) test

kits-clean:
	rm -rf $(KITS_CARGO_DIR) build/apflow_c_test
	for p in $(KITS_AS_PLUGINS); do rm -rf $${p#*:}/build; done

# Each check runs the real tool on a tiny input, so a half-installed toolchain is caught.
toolchains:
	@missing=0; \
	check() { if sh -c "$$2" >/dev/null 2>&1; then printf 'ok       %s\n' "$$1"; \
	  else printf 'MISSING  %-34s install: %s\n' "$$1" "$$3"; missing=1; fi; }; \
	tmp=$$(mktemp -d); \
	check "go (wasip1)" "$(KITS_GO) version" "Go >= 1.24 from go.dev (PATH)"; \
	check "clang" "command -v $(KITS_CC)" "apt-get install clang"; \
	check "wasm-ld" "command -v wasm-ld || command -v wasm-ld-14" "apt-get install lld lld-14"; \
	check "wasi-libc (crt1-reactor.o)" "test -f /usr/lib/wasm32-wasi/crt1-reactor.o || test -n \"\$$WASI_SYSROOT\"" "apt-get install wasi-libc"; \
	check "clang wasm32-wasi reactor link" "printf '#include <stdlib.h>\nvoid *f(int n){return malloc(n);}\n' > $$tmp/t.c && $(KITS_CC) --target=wasm32-wasi -mexec-model=reactor -O2 -o $$tmp/t.wasm $$tmp/t.c" "apt-get install libclang-rt-dev-wasm32 (compiler-rt builtins for wasm32)"; \
	check "rustc (Debian, $(KITS_RUSTC))" "$(KITS_RUSTC) --version" "apt-get install rustc"; \
	check "rustdoc ($(KITS_RUSTDOC))" "$(KITS_RUSTDOC) --version" "apt-get install rustc"; \
	check "cargo ($(KITS_CARGO))" "$(KITS_CARGO) --version" "apt-get install cargo"; \
	check "rust std for wasm32-wasi" "echo 'pub fn f()->Vec<u8>{vec![1]}' > $$tmp/t.rs && $(KITS_RUSTC) --target wasm32-wasi --crate-type cdylib -o $$tmp/r.wasm $$tmp/t.rs" "apt-get install libstd-rust-dev-wasm32"; \
	check "node" "node --version" "apt-get install nodejs (>= 18)"; \
	check "npm" "$(KITS_NPM) --version" "apt-get install npm"; \
	check "wat2wasm" "command -v $(KITS_WAT2WASM)" "apt-get install wabt"; \
	rm -rf $$tmp; \
	if [ $$missing = 1 ]; then echo "AssemblyScript itself comes from npm (npm ci in each package)."; exit 1; fi
