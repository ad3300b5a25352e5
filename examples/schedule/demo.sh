#!/bin/sh
# make demo-schedule: apflow serve on a fresh data dir runs examples/schedule/tree.json
# on its own every 3 seconds until max_runs (4) disables the schedule, then stops.
# Everything stays on loopback; the data dir is a temporary directory, removed at the end.
set -eu
BIN=${BIN:-bin/apflow}
PLUGDIR=${PLUGDIR:-build/plugins}
home=$(mktemp -d)
log="$home/serve.log"
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$home"
}
trap cleanup EXIT INT TERM

APFLOW_LOG_LEVEL=info "$BIN" serve --addr 127.0.0.1:0 --data-dir "$home/data" --plugins "$PLUGDIR" \
	--scheduler-poll 250ms >"$home/stdout" 2>"$log" &
pid=$!
url=
for _ in $(seq 1 1200); do # the first start compiles the plugins
	url=$(sed -n 's/.*serving on \(http:[^ ]*\).*/\1/p' "$home/stdout")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "apflow serve did not start:"; cat "$log"; exit 1; }
echo "apflow serve on $url (data dir $home/data)"

curl -fsS -H 'Content-Type: application/json' "$url/tasks" \
	-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks.create\",\"params\":$(cat examples/schedule/tree.json)}" >/dev/null
echo "submitted examples/schedule/tree.json: interval 3 s, max_runs 4"
echo

field() { sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p" | head -n 1; }
last=
for _ in $(seq 1 120); do
	task=$("$BIN" tasks get scheduled-report --server "$url" | tr -d '\n')
	runs=$(echo "$task" | field run_count)
	at=$(echo "$task" | field last_run_at)
	next=$(echo "$task" | field next_run_at)
	status=$(echo "$task" | field status)
	enabled=$(echo "$task" | field schedule_enabled)
	line="run_count=$runs last_run_at=$at next_run_at=$next status=$status schedule_enabled=$enabled"
	[ "$line" != "$last" ] && echo "$line"
	last=$line
	if [ "$enabled" = false ] && [ "$status" = '"completed"' ]; then
		echo
		"$BIN" tasks scheduled list --all --server "$url"
		echo
		echo "scheduler log:"
		grep -E 'scheduler' "$log" | sed 's/^/  /'
		exit 0
	fi
	sleep 0.5
done
echo "the schedule did not finish; serve log:"
cat "$log"
exit 1
