// Package apischema embeds the JSON Schemas of the params of every JSON-RPC method of the
// apflow API (one file per method, <method>.json, draft-07). The server validates every
// call against them and publishes them at GET /tasks/methods, so what is documented is
// exactly what is enforced.
package apischema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// Method returns the params schema of a method, e.g. "tasks.get".
func Method(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("no params schema for method %q: %w", name, err)
	}
	return b, nil
}

// Names lists the methods that have a schema, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
