package engine

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// TestTaskLogsLineAsStored: a captured line waits as the store will keep it, valid UTF-8
// and cut to store.MaxLogLineBytes in that form, at a character's start: so it is stored
// and counted as it waits, however many bytes cleaning it added.
func TestTaskLogsLineAsStored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, message string
		want          func(string) bool
	}{
		{"not UTF-8", "a\xff\xfeb\x00c", func(m string) bool { return m == "a\uFFFDb\uFFFDc" }},
		{"longer once cleaned", strings.Repeat("\xffa", store.MaxLogLineBytes/2), func(m string) bool {
			return len(m) <= store.MaxLogLineBytes && strings.HasSuffix(m, "…") && strings.HasPrefix(m, "\uFFFDa\uFFFDa")
		}},
		{"continuation bytes only", strings.Repeat("\x80", store.MaxLogLineBytes+1), func(m string) bool { return m == "\uFFFD" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			l := newTaskLogs(st, store.LogBounds{MaxLines: 10, MaxBytes: 1 << 20}, time.Now, hclog.NewNullLogger(), func(string, string, []store.LogLine) {})
			l.closed = true // no flush loop: the line stays pending
			l.add("r", "t", store.LogLine{Message: tt.message, Level: "info"})
			got := l.pending["t"].lines[0].Message
			if !tt.want(got) || !utf8.ValidString(got) || l.pending["t"].bytes != int64(len(got)) {
				t.Fatalf("pending line %.40q… (%d bytes, counted %d)", got, len(got), l.pending["t"].bytes)
			}
			l.flush(t.Context(), "t")
			stored, _, err := st.Logs(t.Context(), "t", 0, 10)
			if err != nil || len(stored) != 1 || stored[0].Message != got {
				t.Fatalf("stored %d lines (%v), want the pending one", len(stored), err)
			}
		})
	}
}
