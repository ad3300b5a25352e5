package badgerstore

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestBadgerWarnings: Badger's warnings reach the log at warn level, except its
// periodic cache advice, which goes out at debug level.
func TestBadgerWarnings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, format string
		args         []any
		level        hclog.Level
		want         bool
	}{
		{"a warning", "Value log GC failed: %v\n", []any{"boom"}, hclog.Warn, true},
		{"cache advice at warn level", "%s might be too small. Metrics: %s\n", []any{"Block cache", "hit: 1"}, hclog.Warn, false},
		{"cache life at warn level", "Cache life expectancy (in seconds): %+v\n", []any{"hist"}, hclog.Warn, false},
		{"cache advice at debug level", "%s might be too small. Metrics: %s\n", []any{"Block cache", "hit: 1"}, hclog.Debug, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := badgerLogger{hclog.New(&hclog.LoggerOptions{Output: &buf, Level: c.level})}
			l.Warningf(c.format, c.args...)
			if got := buf.Len() > 0; got != c.want {
				t.Fatalf("logged %q, want a line: %v", buf.String(), c.want)
			}
		})
	}
}
