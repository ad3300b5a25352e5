// Command validate_user is a pre-hook for a cross-cutting concern (docs/hooks.md,
// "Examples"): it requires a user on every task — the task's user_id or inputs.user_id —
// and enriches the inputs with _pre_hook_timestamp and _environment.
//
// Grants it uses (operator config, plugins.validate_user):
//
//	"config": {"ENVIRONMENT": "staging"}   the value of _environment (default "production")
//	"clock": true                           a real _pre_hook_timestamp (without it the
//	                                        sandbox clock is fixed at 2022-01-01T00:00:00Z)
//
// A task without a user is not failed by this hook (hooks never change a task's status,
// docs/semantics.md rule 19): the hook's error is recorded in the task's hook_errors and the inputs
// are left unchanged. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o validate_user.wasm ./examples/hooks/validate_user
package main

import (
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/hook"
)

func main() {}

func init() {
	hook.Register(apflow.Hook{
		ID: "validate_user", Name: "Validate user", Version: "1.0.0",
		Description:  "requires user_id on every task and stamps the inputs with time and environment",
		Capabilities: []string{"config", "clock"},
		Pre:          pre,
	})
}

func pre(ctx *apflow.Context, t *apflow.Task, inputs map[string]any) (map[string]any, error) {
	user := ""
	if t.UserID != nil {
		user = *t.UserID
	}
	if s, ok := inputs["user_id"].(string); ok && user == "" {
		user = s
	}
	if user == "" {
		return nil, apflow.NewError("user_required",
			"task "+t.ID+": user_id is required (set the task's user_id or inputs.user_id)", nil)
	}
	env, ok := ctx.Config("ENVIRONMENT")
	if !ok || env == "" {
		env = "production"
	}
	out := make(map[string]any, len(inputs)+2)
	for k, v := range inputs {
		out[k] = v
	}
	out["_pre_hook_timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	out["_environment"] = env
	ctx.Log.Debug("validated", "task_id", t.ID, "user_id", user, "environment", env)
	return out, nil
}
