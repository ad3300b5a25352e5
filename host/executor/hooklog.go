package executor

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// LogTee makes the logger a task hook logs through: given the hook's id and the logger
// the hook runner would use, it returns the logger the hook's lines go to. The engine
// sets it on the context of a task's pre- and post-hooks to keep their lines with the
// task (docs/decisions.md §18); it lives here, next to Request.Logger, so the engine and
// the hook runner share it without depending on each other.
type LogTee func(hookID string, l hclog.Logger) hclog.Logger

type teeKey struct{}

// WithLogTee returns ctx whose task hook calls log through tee.
func WithLogTee(ctx context.Context, tee LogTee) context.Context {
	return context.WithValue(ctx, teeKey{}, tee)
}

// HookLogger returns the logger of hook id's call under ctx: l, teed when ctx has a
// LogTee.
func HookLogger(ctx context.Context, id string, l hclog.Logger) hclog.Logger {
	if tee, ok := ctx.Value(teeKey{}).(LogTee); ok && tee != nil {
		return tee(id, l)
	}
	return l
}
