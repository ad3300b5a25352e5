package pluginrun

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// TestMain creates the process's first sandbox runtime before any test runs: wazero
// records its version in a package variable when the first runtime of a process is
// created, unsynchronised, so that parallel tests creating their first runtimes at once
// race (the race detector reports it).
func TestMain(m *testing.M) {
	rt, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = rt.Close(context.Background())
	os.Exit(m.Run())
}
