#!/bin/sh
# Rebuilds the test plugins from their .wat sources (wat2wasm comes with Debian's wabt).
# All but strict.wat are copies of host/sandbox/testdata.
set -e
cd "$(dirname "$0")"
for f in *.wat; do wat2wasm "$f" -o "${f%.wat}.wasm"; done
