package api

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// unreachableEngine cannot tell whether any run is in progress (a cluster's database out
// of reach); nothing else of it is called.
type unreachableEngine struct{ Engine }

func (unreachableEngine) RunActive(context.Context, string) (bool, error) {
	return false, errors.New("database unreachable")
}

// TestRootRunningWhenItCannotTell: a run the engine cannot tell about is taken as going
// on, and a caller that asks again and again has that logged once.
func TestRootRunningWhenItCannotTell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		repeated bool // the caller passes its warned flag
		warnings int
	}{
		{"a caller asking once each time", false, 3},
		{"a caller asking again and again", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &logbuf.Buffer{}
			s := &Server{cfg: Config{Engine: unreachableEngine{}}, log: hclog.New(&hclog.LoggerOptions{Output: logs})}
			var warned *bool
			if tc.repeated {
				warned = new(bool)
			}
			for range 3 {
				if !s.rootRunning(t.Context(), "r", warned) {
					t.Fatal("a run the engine cannot tell about was taken as ended")
				}
			}
			if n := strings.Count(logs.String(), "cannot tell whether a followed run is in progress"); n != tc.warnings {
				t.Fatalf("%d warnings, want %d:\n%s", n, tc.warnings, logs.String())
			}
		})
	}
}
