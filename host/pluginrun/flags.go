package pluginrun

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// AddGrant adds one grant written as on the command line to g: "http=HOST[,HOST...]"
// (host globs, as in the config file), "clock", "random", "kv" (default quotas) or "llm".
// "config" values are given one key at a time with [AddConfig]; "repository" serves
// only hooks run by the engine and cannot be granted to a call.
func AddGrant(g *sandbox.Grants, spec string) error {
	name, value, hasValue := strings.Cut(strings.TrimSpace(spec), "=")
	switch name {
	case "http":
		if !hasValue || strings.TrimSpace(value) == "" {
			return fmt.Errorf("grant %q: want http=HOST[,HOST...]", spec)
		}
		for _, h := range strings.Split(value, ",") {
			if h = strings.TrimSpace(h); h == "" {
				return fmt.Errorf("grant %q: empty host", spec)
			}
			g.HTTP = append(g.HTTP, h)
		}
		return nil
	case "clock", "random", "kv", "llm":
		if hasValue {
			return fmt.Errorf("grant %q: %s takes no value", spec, name)
		}
		switch name {
		case "clock":
			g.Clock = true
		case "random":
			g.Random = true
		case "kv":
			g.KV = &sandbox.KVGrant{}
		case "llm":
			g.LLM = true
		}
		return nil
	case "config":
		return fmt.Errorf("grant %q: give config values with --config KEY=VALUE", spec)
	case "repository":
		return fmt.Errorf("grant %q: store_call serves hooks the engine runs around a task; a call has no tasks to give", spec)
	}
	return fmt.Errorf("grant %q: unknown capability %q (want http=HOST,..., clock, random, kv or llm)", spec, name)
}

// AddConfig adds one config value "KEY=VALUE" that config_get may read.
func AddConfig(g *sandbox.Grants, spec string) error {
	k, v, ok := strings.Cut(spec, "=")
	if !ok || k == "" {
		return fmt.Errorf("config %q: want KEY=VALUE", spec)
	}
	if g.Config == nil {
		g.Config = map[string]string{}
	}
	g.Config[k] = v
	return nil
}

// ParseLimits parses "timeout_ms=N,memory_pages=N,max_result_bytes=N" (any subset, the
// names of a task's limits).
func ParseLimits(spec string) (task.Limits, error) {
	var l task.Limits
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return l, fmt.Errorf("limits %q: want NAME=NUMBER, not %q", spec, kv)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			return l, fmt.Errorf("limits %q: %s must be a positive integer, not %q", spec, k, v)
		}
		switch strings.TrimSpace(k) {
		case "timeout_ms":
			l.TimeoutMS = n
		case "memory_pages":
			if n > task.MaxMemoryPages {
				return l, fmt.Errorf("limits %q: memory_pages %d is above the wasm32 maximum of %d", spec, n, task.MaxMemoryPages)
			}
			l.MemoryPages = uint32(n)
		case "max_result_bytes":
			l.MaxResultBytes = n
		default:
			return l, fmt.Errorf("limits %q: unknown limit %q (want timeout_ms, memory_pages or max_result_bytes)", spec, k)
		}
	}
	return l, nil
}
