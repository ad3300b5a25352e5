#!/bin/sh
# Rebuilds every test plugin from its .wat source (wat2wasm comes with Debian's wabt).
# Fixtures marked "INVALID on purpose" are assembled without validation.
set -e
cd "$(dirname "$0")"
for f in *.wat; do
	if grep -q "INVALID on purpose" "$f"; then
		wat2wasm --no-check "$f" -o "${f%.wat}.wasm"
	else
		wat2wasm "$f" -o "${f%.wat}.wasm"
	fi
done
