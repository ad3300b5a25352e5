package pluginrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/apflow-wasm/apflow/host/schema"
)

// CaseResult is how one case went.
type CaseResult struct {
	Case *Case
	// Outcome is what the call gave; nil when it could not be made.
	Outcome *Outcome
	// Problems say why the case failed, one per line; empty when it passed.
	Problems []string
}

// Passed reports whether the case passed.
func (c *CaseResult) Passed() bool { return len(c.Problems) == 0 }

// RunCases runs every case of f against t, in order. It returns an error only when ctx
// ends; what each case gave is in its CaseResult.
func (r *Runner) RunCases(ctx context.Context, t *Target, f *CasesFile) ([]*CaseResult, error) {
	var out []*CaseResult
	for _, c := range f.Cases {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, r.runCase(ctx, t, c))
	}
	return out, nil
}

func (r *Runner) runCase(ctx context.Context, t *Target, c *Case) *CaseResult {
	res := &CaseResult{Case: c}
	call := c.call()
	if c.pairs != nil {
		fx := NewFixture(c.pairs)
		call.HTTP, call.Unmatched = fx.Wrap, fx.Unmatched
	}
	o, err := r.Call(ctx, t, call)
	if err != nil {
		res.Problems = []string{"cannot call the plugin: " + err.Error()}
		return res
	}
	res.Outcome = o
	res.Problems = c.Expect.problems(c, o)
	return res
}

// problems checks an outcome against the expectation.
func (e *Expect) problems(c *Case, o *Outcome) []string {
	var ps []string
	if e.Error == nil { // a case expecting an error may mean this one
		for _, u := range o.Unmatched {
			ps = append(ps, "http: no fixture pair answered "+u)
		}
	}
	switch {
	case e.Error != nil && !o.Failed():
		ps = append(ps, fmt.Sprintf("want an error containing %q, got the result %s", *e.Error, render(rawValue(o.Result))))
	case e.Error != nil && !strings.Contains(o.Error, *e.Error):
		ps = append(ps, fmt.Sprintf("error: want it to contain %q, got %q", *e.Error, o.Error))
	case e.Error == nil && o.Failed():
		ps = append(ps, "failed: "+o.Error)
	case e.Error == nil:
		ps = append(ps, e.resultProblems(c, o.Result)...)
	}
	for _, m := range matchLogs(e.Logs, o.Logs) {
		ps = append(ps, fmt.Sprintf("logs: no line (after the previous match) contains %q", m))
	}
	return ps
}

func (e *Expect) resultProblems(c *Case, got json.RawMessage) []string {
	var ps []string
	compare := func(what string, want json.RawMessage, subset bool) {
		d, err := diffJSON(want, got, subset)
		if err != nil {
			ps = append(ps, what+": "+err.Error())
			return
		}
		if len(d) > 0 {
			ps = append(ps, fmt.Sprintf("%s differs (%d %s):", what, len(d), plural(len(d), "place", "places")))
			for _, l := range d {
				ps = append(ps, "  "+l)
			}
		}
	}
	if e.Result != nil {
		compare("result", e.Result, false)
	}
	if e.ResultSubset != nil {
		compare("result_subset", e.ResultSubset, true)
	}
	if c.schema != nil {
		v, err := schema.Decode(got)
		if err == nil {
			err = c.schema.Validate(v)
		}
		if err != nil {
			msg := err.Error()
			if p := schema.ProblemsOf(err); p != nil {
				msg = schema.Describe(p, "result")
			}
			ps = append(ps, "result_schema: "+msg)
		}
	}
	return ps
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// rawValue decodes a result for rendering (nil stays nil).
func rawValue(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	v, err := schema.Decode(raw)
	if err != nil {
		return string(raw)
	}
	return v
}

// WriteReport writes one line per case (PASS or FAIL, its file and name) and, for a
// failed case, its problems, the result it got and its log lines.
func WriteReport(w io.Writer, path string, results []*CaseResult) {
	for _, res := range results {
		if res.Passed() {
			fmt.Fprintf(w, "PASS %s: %s\n", path, res.Case.Name)
			continue
		}
		fmt.Fprintf(w, "FAIL %s: %s\n", path, res.Case.Name)
		for _, p := range res.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
		if o := res.Outcome; o != nil {
			if o.Result != nil {
				fmt.Fprintf(w, "    got:\n%s\n", indentLines(Indent(o.Result), "      "))
			}
			for _, l := range o.Logs {
				fmt.Fprintf(w, "    log %s\n", l)
			}
		}
	}
}

func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// Update sets the expectations of the failed cases of f to what they gave and reports
// how many changed: a case that succeeded expects its result exactly (a case checked by
// result_subset or result_schema is left alone, and so is its expected error), one that
// failed expects its error (replacing its result expectations). Expected log lines are
// never changed, so a case whose expected log lines are missing is left as it is, and
// so is one that could not be called or whose requests the fixture did not answer: those
// fail still. Write the file with WriteFile.
func Update(f *CasesFile, results []*CaseResult) int {
	n := 0
	for _, res := range results {
		o, e := res.Outcome, &res.Case.Expect
		if res.Passed() || o == nil || len(o.Unmatched) > 0 || len(matchLogs(e.Logs, o.Logs)) > 0 {
			continue
		}
		switch {
		case o.Failed():
			msg := expectedError(o.Error)
			e.Error, e.Result, e.ResultSubset, e.ResultSchema = &msg, nil, nil, nil
			res.Case.schema = nil
		case e.ResultSubset == nil && e.ResultSchema == nil:
			e.Error, e.Result = nil, o.Result
		default:
			continue
		}
		n++
	}
	return n
}

// expectedError is the part of a failed call's error that Update expects (a case's
// error is a substring): without the host's "plugin ID (sha256 …): " prefix, whose hash
// changes with every build of the plugin, without a trap's stack trace, which follows
// its first line, and ending before a panic's or a failed assert's source location
// (Rust's ", src/lib.rs:12:20", C's " (main.c: execute: 12)"), which moves with any
// edit above it.
func expectedError(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "plugin "); ok {
		if i := strings.Index(rest, "): "); i >= 0 && strings.Contains(rest[:i], " (sha256 ") {
			msg = rest[i+len("): "):]
		}
	}
	first, _, _ := strings.Cut(msg, "\n")
	if loc := sourceLocation.FindStringIndex(first); loc != nil {
		first = first[:loc[0]]
	}
	return first
}

// sourceLocation is a Rust panic's location (", src/lib.rs:12:20") or a C assert's
// (" (main.c: execute: 12)") in a guest's error.
var sourceLocation = regexp.MustCompile(`, [^\s,']+\.rs:\d+:\d+| \([^()\s]+\.[ch]: [^()]*: \d+\)`)

// WriteFile writes f back to its Path (see Marshal).
func (f *CasesFile) WriteFile() error {
	b, err := f.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.Path, b, 0o644); err != nil {
		return fmt.Errorf("update cases: %w", err)
	}
	return nil
}
