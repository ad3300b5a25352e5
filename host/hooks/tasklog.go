package hooks

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// LogTee makes the logger a task hook logs through: given the hook's id and the logger
// the runner would use, it returns the logger the hook's lines go to. The engine uses it
// to keep a task's hook lines with the task (docs/decisions.md §18).
type LogTee func(hookID string, l hclog.Logger) hclog.Logger

type teeKey struct{}

// WithLogTee returns ctx whose Pre and Post calls log the hooks' lines through tee.
func WithLogTee(ctx context.Context, tee LogTee) context.Context {
	return context.WithValue(ctx, teeKey{}, tee)
}

// hookLogger returns the logger of hook id's call under ctx: l, teed when ctx has a
// LogTee.
func hookLogger(ctx context.Context, id string, l hclog.Logger) hclog.Logger {
	if tee, ok := ctx.Value(teeKey{}).(LogTee); ok && tee != nil {
		return tee(id, l)
	}
	return l
}
