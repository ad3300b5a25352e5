package pgstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/store/storetest"
)

// openBench opens a new store for storetest's benchmarks, with its commit counters.
func openBench(b *testing.B) storetest.BenchStore {
	s, _ := setup(b, Options{})
	return storetest.BenchStore{Store: s, Commits: func() (int64, int64) { return s.c.rounds.Load(), s.c.jobs.Load() }}
}

// BenchmarkCreate10k stores one submission of 10,000 tasks per iteration (COPY in one
// transaction), durably.
func BenchmarkCreate10k(b *testing.B) { storetest.BenchmarkCreate(b, 10_000, openBench) }

// BenchmarkUpdate measures durable Update throughput with 1, 8 and 64 concurrent
// updaters (storetest.BenchmarkUpdate).
func BenchmarkUpdate(b *testing.B) { storetest.BenchmarkUpdate(b, openBench) }
