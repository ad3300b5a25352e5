#!/bin/sh
# Rebuilds every test hook from its .wat source (wat2wasm comes with Debian's wabt).
set -e
cd "$(dirname "$0")"
for f in *.wat; do wat2wasm "$f" -o "${f%.wat}.wasm"; done
