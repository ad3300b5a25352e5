package memstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestKVConformance(t *testing.T) {
	t.Parallel()
	storetest.RunKV(t, func(*testing.T) *Store { return New() })
}
