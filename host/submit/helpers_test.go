package submit

import (
	"errors"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// problemsOf returns the *apferr.Error in err and its problems, failing the test if err
// is not a validation error.
func problemsOf(t *testing.T, err error) (*apferr.Error, []apferr.Problem) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	var ae *apferr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T (%v) is not an *apferr.Error", err, err)
	}
	data, _ := ae.Data.(map[string]any)
	ps, _ := data["errors"].([]apferr.Problem)
	return ae, ps
}

// want describes one expected problem; empty fields match anything.
type want struct {
	code   apferr.Code
	task   string // task name
	field  string
	reason string // substring of the reason
	cycle  string // the cycle, joined with " -> "
}

func (w want) matches(p apferr.Problem) bool {
	return (w.code == 0 || p.Code == w.code) &&
		(w.task == "" || p.TaskName == w.task) &&
		(w.field == "" || p.Field == w.field) &&
		(w.reason == "" || strings.Contains(p.Reason, w.reason)) &&
		(w.cycle == "" || strings.Join(p.Cycle, " -> ") == w.cycle)
}

// expectProblems checks that every wanted problem is among ps.
func expectProblems(t *testing.T, ps []apferr.Problem, wants ...want) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, p := range ps {
			if w.matches(p) {
				found = true
				break
			}
		}
		if !found {
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			t.Errorf("no problem matching %+v among:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}
