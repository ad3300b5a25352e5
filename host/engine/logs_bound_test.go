package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
)

// TestTaskLogsPendingBounds: lines waiting for the flush are bounded like stored ones,
// by count and by bytes, oldest dropped first, so a task logging faster than the flush
// holds no more than its bounds.
func TestTaskLogsPendingBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		bounds store.LogBounds
		want   []string
	}{
		{"lines", store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}, []string{"l3..", "l4.."}},
		{"bytes", store.LogBounds{MaxLines: 100, MaxBytes: 9}, []string{"l3..", "l4.."}},
		{"a line over the bytes is kept alone", store.LogBounds{MaxLines: 100, MaxBytes: 2}, []string{"l4.."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newTaskLogs(memstore.New(), tt.bounds, time.Now, hclog.NewNullLogger(), func(string, string, []store.LogLine) {})
			l.closed = true // no flush loop: the lines stay pending
			for i := 1; i <= 4; i++ {
				l.add("r", "t", store.LogLine{Message: "l" + string(rune('0'+i)) + ".."})
			}
			var got []string
			for _, line := range l.pending["t"].lines {
				got = append(got, line.Message)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("pending = %v, want %v", got, tt.want)
			}
		})
	}
}
