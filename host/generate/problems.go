package generate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/llm"
)

// ErrNoValidTree is matched (errors.Is) by every *NoValidTreeError.
var ErrNoValidTree = errors.New("generate: the model gave no valid task tree")

// NoValidTreeError is the failure of a generation that ran out of rounds: Problems are
// those of the last answer (a malformed answer is one problem with Field "answer");
// Usage sums the tokens the generation spent.
type NoValidTreeError struct {
	Rounds   int
	Problems []apferr.Problem
	Usage    llm.Usage
}

// Error lists every problem, one per line.
func (e *NoValidTreeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v after %d round(s): %d problem(s)", ErrNoValidTree, e.Rounds, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoValidTree) true.
func (e *NoValidTreeError) Is(target error) bool { return target == ErrNoValidTree }

// problemsOf returns the problems a validation error lists, or nil when err is not a
// validation failure (a look-up or context error, which ends the generation).
func problemsOf(err error) []apferr.Problem {
	ae := apferr.As(err)
	if ae == nil {
		return nil
	}
	if data, ok := ae.Data.(map[string]any); ok {
		if ps, ok := data["errors"].([]apferr.Problem); ok && len(ps) > 0 {
			return ps
		}
	}
	return []apferr.Problem{{Code: ae.Code, Field: "tasks", Reason: ae.Message}}
}

// answerProblem is the problem of an answer that holds no task array.
func answerProblem(reason string) apferr.Problem {
	return apferr.Problem{Code: apferr.ParseError, Field: "answer", Reason: reason}
}

// describeProblems renders problems for the model: one line each.
func describeProblems(ps []apferr.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("- ")
		b.WriteString(p.String())
		if p.Expected != nil {
			fmt.Fprintf(&b, " (expected %v)", p.Expected)
		}
		b.WriteString("\n")
	}
	return b.String()
}
