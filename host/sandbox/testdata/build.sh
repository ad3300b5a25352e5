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
	# Fixtures marked "WITH NAMES" are also built with a name section, as <name>_named.wasm.
	if grep -q "WITH NAMES" "$f"; then
		wat2wasm --debug-names "$f" -o "${f%.wat}_named.wasm"
	fi
done
