#!/usr/bin/env bash
# make cluster-demo: a cluster of three `apflow serve` nodes sharing one PostgreSQL
# database, all on loopback. It starts its own PostgreSQL (initdb into a temporary
# directory; as the unprivileged "postgres" user when run as root, since PostgreSQL
# refuses to run as root), starts three nodes, submits a tree of 60 tasks of about
# 100 ms each to node1, shows `apflow cluster status` while it runs, waits for the end,
# prints which node executed which task (from the nodes' info logs: the delay plugin
# logs "delay done" with the task id on the node that ran it), then stops everything and
# removes the temporary directory.
#
# Needs: bin/apflow (make build), build/plugins/delay.wasm (make plugins), PostgreSQL's
# server binaries (make setup installs Debian's postgresql package).
# Environment: APFLOW (the binary), PLUGDIR (the plugins directory), TASKS (default 60),
# TASK_MS (default 100).
set -euo pipefail

cd "$(dirname "$0")/../.."
APFLOW=${APFLOW:-bin/apflow}
PLUGDIR=${PLUGDIR:-build/plugins}
TASKS=${TASKS:-60}
TASK_MS=${TASK_MS:-100}

die() { echo "cluster-demo: $*" >&2; exit 1; }

[ -x "$APFLOW" ] || die "$APFLOW not found: run make build"
[ -f "$PLUGDIR/delay.wasm" ] || die "$PLUGDIR/delay.wasm not found: run make plugins"
APFLOW=$(realpath "$APFLOW")
PLUGDIR=$(realpath "$PLUGDIR")

# PostgreSQL's server binaries: the newest /usr/lib/postgresql/<version>/bin, else PATH.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	initdb=$(command -v initdb || true)
	[ -n "$initdb" ] || die "PostgreSQL's initdb not found in /usr/lib/postgresql/*/bin or PATH: run make setup"
	PGBIN=$(dirname "$initdb")
fi

WORK=$(mktemp -d /tmp/apflow-cluster-demo.XXXXXX)
chmod 755 "$WORK"
PIDS=()
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root, PostgreSQL needs the unprivileged \"postgres\" user (make setup creates it)"
	as_pg() { runuser -u postgres -- "$@"; }
fi

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if [ -f "$WORK/pg/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nobody listens on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free loopback port found"
}

echo "== PostgreSQL ($PGBIN) in $WORK/pg"
mkdir -p "$WORK/pg" "$WORK/sock"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pg" "$WORK/sock"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U apflow --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log" >&2; die "initdb failed"; }
PGPORT=$(free_port)
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/sock/postgres.log" -w \
	-o "-h 127.0.0.1 -p $PGPORT -k $WORK/sock" start >/dev/null ||
	{ cat "$WORK/sock/postgres.log" >&2; die "PostgreSQL did not start"; }
STORE="postgres://apflow@127.0.0.1:$PGPORT/postgres?sslmode=disable"
echo "   listening on 127.0.0.1:$PGPORT"

# The delay plugin waits in real time only with the clock grant.
cat >"$WORK/config.json" <<'JSON'
{"plugins": {"delay": {"clock": true}}}
JSON

# The nodes load only the delay plugin. node1 compiles it; the others find it in the
# compilation cache they share with it (the user's, not a data dir's).
mkdir -p "$WORK/plugins"
cp "$PLUGDIR/delay.wasm" "$WORK/plugins/"
echo "== three apflow serve nodes"
declare -A URL
for n in 1 2 3; do
	"$APFLOW" serve --addr 127.0.0.1:0 --store "$STORE" --node-id "node$n" --data-dir "$WORK/node$n" \
		--plugins "$WORK/plugins" --config "$WORK/config.json" --concurrency 4 --log-level info \
		>"$WORK/node$n.out" 2>"$WORK/node$n.log" &
	PIDS+=($!)
	url=
	for _ in $(seq 1200); do
		url=$(grep -o 'serving on http://[^ ]*' "$WORK/node$n.out" 2>/dev/null | cut -d' ' -f3 || true)
		[ -n "$url" ] && break
		kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null || { cat "$WORK/node$n.log" >&2; die "node$n exited"; }
		sleep 0.1
	done
	[ -n "$url" ] || die "node$n did not start listening"
	URL[$n]=$url
	echo "   node$n  $url"
done

# A root and $TASKS children of ~$TASK_MS ms each; the root (no dependencies) runs last.
{
	printf '[{"id": "demo-root", "name": "cluster demo", "schemas": {"method": "delay"}, "inputs": {"duration_ms": 1, "message": "all done"}}'
	for i in $(seq -w 1 "$TASKS"); do
		printf ',\n {"id": "demo-%s", "name": "task %s", "parent_id": "demo-root", "schemas": {"method": "delay"}, "inputs": {"duration_ms": %d, "steps": 2}}' "$i" "$i" "$TASK_MS"
	done
	printf ']\n'
} >"$WORK/tree.json"

echo "== submitting $((TASKS + 1)) tasks to node1 (${URL[1]})"
timeout 300 "$APFLOW" run -q --server "${URL[1]}" "$WORK/tree.json" >"$WORK/run.out" 2>&1 &
RUN=$!
# The operator's view, once tasks are executing.
while kill -0 "$RUN" 2>/dev/null; do
	"$APFLOW" cluster status --store "$STORE" >"$WORK/status.out" 2>&1 || true
	if grep -Eq ', [1-9][0-9]* claimed$' "$WORK/status.out"; then
		echo "== apflow cluster status, while it runs"
		sed 's/^/   /' "$WORK/status.out"
		break
	fi
	sleep 0.2
done
wait "$RUN" || { cat "$WORK/run.out" >&2; die "the run did not complete within 5 minutes"; }
cat "$WORK/run.out"

echo "== which node ran which task (from the nodes' logs)"
total=0
for n in 1 2 3; do
	tasks=$(grep -o 'delay done.* task=[^ ]*' "$WORK/node$n.log" | sed 's/.* task=//' | sort || true)
	count=$(printf '%s' "$tasks" | grep -c . || true)
	total=$((total + count))
	echo "   node$n ran $count tasks:"
	printf '%s\n' "$tasks" | tr '\n' ' ' | fold -s -w 88 | sed 's/^/      /'
	echo
done
echo "   $total task executions for $((TASKS + 1)) tasks"
