// Package config reads the operator's configuration file: default and maximum sandbox
// limits, the capability grants of each plugin, and the hooks to run, in order.
//
// The file is JSON and is validated against schemas/config.schema.json before it is
// used: an unknown key, a wrong type or an out-of-range value is an error naming the
// field, never silently ignored (a typo in a grant must not pass unnoticed). A missing
// file at the default location means "all defaults, nothing granted".
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/schemas"
)

// Plugin is the configuration of one plugin: its capability grants and limits.
type Plugin struct {
	sandbox.Grants
	// Limits apply to this plugin's executions where a task sets none; zero fields fall
	// back to the operator defaults.
	Limits task.Limits `json:"limits"`
}

// Config is the operator configuration.
type Config struct {
	// Concurrency is how many tasks run at once; 0 keeps the engine default.
	Concurrency int `json:"concurrency"`
	// Limits are the defaults of every execution.
	Limits task.Limits `json:"limits"`
	// MaxLimits are the ceilings of per-task and per-plugin overrides.
	MaxLimits task.Limits `json:"max_limits"`
	// HookLimits are the limits of every hook call.
	HookLimits task.Limits `json:"hook_limits"`
	// Retry is the default retry policy of every task (docs/retries.md).
	Retry retry.Spec `json:"retry"`
	// Hooks are the hook plugin ids, in the order they run.
	Hooks []string `json:"hooks"`
	// Plugins holds grants and limits by plugin id.
	Plugins map[string]Plugin `json:"plugins"`
	// TaskLogs bounds the plugin and hook log lines kept with each task
	// (docs/decisions.md §18); zero fields keep the engine defaults (1,000 lines, 1 MiB).
	TaskLogs TaskLogs `json:"task_logs"`
	// LLM is the model provider of the llm capability; nil: the environment fallback
	// alone (llm.New, docs/configuration.md "LLM").
	LLM *llm.Config `json:"llm"`
}

// TaskLogs bounds what a task keeps of its log lines: its newest lines, at most MaxLines
// of at most MaxBytes message bytes in all.
type TaskLogs struct {
	MaxLines int   `json:"max_lines"`
	MaxBytes int64 `json:"max_bytes"`
}

// Grants returns the grants of a plugin (nothing for a plugin the file does not name).
func (c *Config) Grants(pluginID string) sandbox.Grants {
	if c == nil {
		return sandbox.Grants{}
	}
	return c.Plugins[pluginID].Grants
}

// PluginLimits returns the limits configured for a plugin (zero when none).
func (c *Config) PluginLimits(pluginID string) task.Limits {
	if c == nil {
		return task.Limits{}
	}
	return c.Plugins[pluginID].Limits
}

// Load reads and validates the file at path. If the file does not exist and optional is
// true, Load returns the zero Config.
func Load(path string, optional bool) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return &Config{}, nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse validates a config document against the published schema and decodes it. A
// document the schema refuses is an error listing every problem, "field: reason",
// sorted by field.
func Parse(b []byte) (*Config, error) {
	sch, err := compiled()
	if err != nil {
		return nil, err
	}
	doc, err := schema.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		if ps := schema.ProblemsOf(err); ps != nil {
			return nil, fmt.Errorf("invalid: %s", schema.Describe(ps, ""))
		}
		return nil, fmt.Errorf("invalid: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if c.LLM != nil && c.LLM.Provider != "" {
		if err := c.LLM.Validate(); err != nil {
			return nil, fmt.Errorf("invalid: %w", err)
		}
	}
	return &c, nil
}

// compiled compiles the published config schema embedded in the binary.
func compiled() (*schema.Schema, error) {
	const name = "config.schema.json"
	b, err := schemas.FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("config: embedded schema: %w", err)
	}
	s, err := schema.Compile(name, b, schema.Draft2020)
	if err != nil {
		return nil, fmt.Errorf("config: embedded schema: %w", err)
	}
	return s, nil
}
