// Command e2ebench measures the product path end to end (make bench, make bench-scale):
// the apflow binary as users run it, on tree files of a few shapes, each with an echo
// executor written in WAT, in Go (the SDK) and in Rust (the kit).
//
// Two modes per workload and plugin by default, and two more on request (-modes):
//
//   - run: `apflow run -q TREE` as a child process, from its start to its exit (reading
//     and validating the file, storing the tree, the run, the final report, closing).
//   - serve: `apflow serve` on a loopback port, one JSON-RPC tasks.execute of the tree
//     (the plain form, which answers with the final status, as a client waiting for its
//     tree does), timed from the request to the answer; the server's start is not timed.
//     It is a fresh server's first request: it loads the plugin (a Go module's load is
//     tens of milliseconds) and makes its first instance.
//   - warm: as serve, on a server that executed a 2-task tree of the same plugin first,
//     untimed: what a request costs a server past its first use of the plugin, the
//     per-task cost of a warm guest.
//   - rerun: as run, ten times in a data dir that ten earlier runs of the same tree
//     filled, untimed, and the means of the ten (peak RSS and heap: their largest): what
//     a user's runs cost once the data dir holds their earlier ones (the storage engine
//     compacts more the more it holds, and one run in a few does the compaction the
//     runs before it left).
//
// Each child (but the rerun mode's) runs in a fresh data directory whose compilation
// cache was warmed by one earlier run of the same plugin and build, so no figure includes
// compiling a module. Per child it reports tasks per second and µs per task of wall time
// (and, for run, the run as apflow's summary times it, from the start of the run to the
// final report), the peak RSS (the Maxrss of wait4's rusage), the peak of its anonymous
// memory (RssAnon of /proc/<pid>/status, read every 5 ms: the RSS less the file pages
// mapped into the process, 13-19 MiB of which are apflow's binary) and the heap: the child
// runs with GODEBUG=gctrace=1 and the largest heap a collection found live (the third
// figure of "a->b->c MB") is the live heap. Heap per task is that minus the live heap of
// the same plugin and mode on a 2-task tree (the store's preallocated buffers, the
// runtime, the compiled modules: Badger's arenas count as heap before they are touched,
// so the base can exceed the RSS), divided by the tasks. The 2-task runs collect back to
// back (GOGC=1), so that their largest live heap is seen: at apflow's own pace such an
// apflow run collected nothing and its base read 0. A heap is only seen at the end of a
// collection, and gctrace rounds to the MB, so on small trees the figure is noise (0, or
// several times the true one) and it means something from 10,000 tasks on. A measured
// run, collected at apflow's pace, can hold more between two collections than the
// largest they saw, so the figure errs low, by up to that pace's headroom over the tasks.
//
// The floors are measured in the same run, by the repository's own benchmarks: the
// engine alone with the in-process no-op executor on the same tree as apflow run stores
// it, ids, names and inputs of the same kind and size (host/engine BenchmarkFloor, run
// right before the workload's children, since a shared machine's load drifts over a
// run), the bare wazero round trip (host/sandbox BenchmarkRoundTripRaw)
// and one fsync (host/engine BenchmarkFsync), once at the start. It is a program rather than a Go benchmark because
// what it measures is other processes: a b.N loop would add nothing but a harness to
// defeat, and a table per workload with its floors beside is what the reader compares.
//
// With -rounds N each workload is measured N times, each round its engine floor and then
// its children, and a last table gives per mode, plugin (and build) the median µs a task, the
// median of the rounds' ratios (each to its own round's floor) and their spread: on a
// shared machine one round's ratio moves by a fifth from one minute to the next.
//
// With -against OLD (another apflow binary, e.g. a build of the commit before a change)
// every child runs with each build, one right after the other (the new build first in
// the first round, the base first in the second, and so on), each build with its own
// warmed compilation cache; every row names its build and the new build's rows give
// their µs a task over the base's of the same round (× base), and the medians table the
// median of those ratios. Two builds measured apart, minutes from each other, differ by
// the machine's drift as much as by their change. Build the base as make build does
// (static); the engine floor is always the current source's:
//
//	git worktree add /tmp/base HEAD~1 && make -C /tmp/base build
//	make bench-ab AGAINST=/tmp/base/bin/apflow   # wide-1k, chain-200, wide-10k; WAT; six rounds
//
// -serve-args adds arguments to every apflow serve child, for a server configured
// otherwise than by default: -serve-args "--memtable-bytes 33554432" measures a server
// whose store has memtables of 32 MiB (the engine floor is unchanged).
//
// A child that fails (a non-zero exit, an error answer, a timeout) is reported as failed
// in its row, with the end of its output, and the next one runs; the command then exits
// with an error once every table is written.
package main
