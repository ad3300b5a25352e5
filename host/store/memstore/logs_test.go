package memstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestLogsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLogs(t, func(*testing.T) *Store { return New() })
}

func TestQueuedLogsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunQueuedLogs(t, func(*testing.T) *Store { return New() })
}
