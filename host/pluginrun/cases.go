package pluginrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
)

// CasesFile is one file of cases: a JSON array of cases, or {"cases": [...]}.
type CasesFile struct {
	// Path is where the file was read (and where Update writes it).
	Path  string
	Cases []*Case
	// wrapped: the file was {"cases": [...]}, and is written back so.
	wrapped bool
}

// Case is one call of the plugin and what it must give.
type Case struct {
	// Name identifies the case in the report; required, unique in its file.
	Name string `json:"name"`
	// Input is the call's input (see Call.Input); absent means {}.
	Input json.RawMessage `json:"input,omitempty"`
	// Hook is "", "pre" or "post" (see Call.Hook).
	Hook string `json:"hook,omitempty"`
	// Config are config values config_get may read, merged into Grants.Config.
	Config map[string]string `json:"config,omitempty"`
	// Grants are the call's grants, as in the operator config's grants of one plugin.
	Grants *sandbox.Grants `json:"grants,omitempty"`
	// Limits override the default limits.
	Limits *task.Limits `json:"limits,omitempty"`
	// HTTP answers the plugin's http_request calls: an array of pairs (as in a fixture
	// file), or the name of a fixture file, relative to the cases file.
	HTTP json.RawMessage `json:"http,omitempty"`
	// Expect is what the call must give.
	Expect Expect `json:"expect"`

	pairs  []Pair         // HTTP, parsed; nil without HTTP
	schema *schema.Schema // Expect.ResultSchema, compiled
}

// Expect is what a case's call must give. Without Error the call must succeed (a
// result with an "error" key is a failure, as for a task); with it, the call must fail
// with an error containing it, and no result expectation may be given.
type Expect struct {
	// Result must equal the result (as JSON values: key order and number spelling do not
	// matter).
	Result json.RawMessage `json:"result,omitempty"`
	// ResultSubset must be contained in the result: every key of an object present with
	// a matching value, recursively; arrays of the same length, element by element.
	ResultSubset json.RawMessage `json:"result_subset,omitempty"`
	// ResultSchema is a JSON Schema (draft 2020-12 unless it says) the result must match.
	ResultSchema json.RawMessage `json:"result_schema,omitempty"`
	// Error must be contained in the call's error.
	Error *string `json:"error,omitempty"`
	// Logs must each be contained in a distinct log line (rendered as "level message
	// key=value..."), in this order; other lines may come between.
	Logs []string `json:"logs,omitempty"`
}

// ParseCases decodes and checks a cases document. path names it in errors and is the
// directory fixture file names are relative to.
func ParseCases(path string, data []byte) (*CasesFile, error) {
	f := &CasesFile{Path: path}
	var raw []json.RawMessage
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		var w struct {
			Cases []json.RawMessage `json:"cases"`
		}
		if err := decodeStrict(data, &w); err != nil {
			return nil, fmt.Errorf("%s: not a cases file (a JSON array of cases, or {\"cases\": [...]}): %s", path, readableJSONError(err))
		}
		raw, f.wrapped = w.Cases, true
	} else if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a cases file (a JSON array of cases, or {\"cases\": [...]}): %s", path, readableJSONError(err))
	}
	// Each case on its own, so that a problem names its case.
	for i, r := range raw {
		var c *Case
		if err := decodeStrict(r, &c); err != nil {
			return nil, fmt.Errorf("%s: case %s: %s", path, caseLabel(r, i), readableJSONError(err))
		}
		f.Cases = append(f.Cases, c)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	seen := map[string]bool{}
	for i, c := range f.Cases {
		if c == nil {
			return nil, fmt.Errorf("%s: case %d is null", path, i)
		}
		if err := c.check(filepath.Dir(path)); err != nil {
			name := c.Name
			if name == "" {
				name = fmt.Sprint(i)
			}
			return nil, fmt.Errorf("%s: case %s: %w", path, name, err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%s: case %s: the name is used twice", path, c.Name)
		}
		seen[c.Name] = true
	}
	return f, nil
}

// caseLabel names the case raw, at index i, in a problem: its name when it has one.
func caseLabel(raw json.RawMessage, i int) string {
	var named struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &named) == nil && named.Name != "" {
		return named.Name
	}
	return fmt.Sprint(i)
}

// readableJSONError says what encoding/json found wrong in a cases file in the file's
// terms: the field and the JSON it wants, not Go's types.
func readableJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "an object"
		switch te.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		}
		if te.Field == "" {
			return fmt.Sprintf("must be %s, not %s", want, te.Value)
		}
		return fmt.Sprintf("%s: must be %s, not %s", te.Field, want, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// check validates a case and prepares its fixture and schema.
func (c *Case) check(dir string) error {
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("name is required")
	}
	switch c.Hook {
	case "", HookPre, HookPost:
	default:
		return fmt.Errorf("hook %q: want %q or %q", c.Hook, HookPre, HookPost)
	}
	if c.Grants != nil && c.Grants.Repository {
		return fmt.Errorf("grants.repository: store_call serves hooks the engine runs around a task; a case has no tasks to give")
	}
	for k := range c.Config {
		if c.Grants != nil && c.Grants.Config != nil {
			if _, dup := c.Grants.Config[k]; dup {
				return fmt.Errorf("config %q is given both in config and in grants.config", k)
			}
		}
	}
	if c.Limits != nil && c.Limits.MemoryPages > task.MaxMemoryPages {
		return fmt.Errorf("limits.memory_pages %d is above the wasm32 maximum of %d", c.Limits.MemoryPages, task.MaxMemoryPages)
	}
	if c.Limits != nil && (c.Limits.TimeoutMS < 0 || c.Limits.MaxResultBytes < 0) {
		return fmt.Errorf("limits must not be negative")
	}
	if err := c.loadHTTP(dir); err != nil {
		return err
	}
	return c.Expect.check(c)
}

// loadHTTP parses the case's http fixture, inline or from a file.
func (c *Case) loadHTTP(dir string) error {
	raw := bytes.TrimSpace(c.HTTP)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil || name == "" {
			return fmt.Errorf("http: want an array of pairs or a fixture file name")
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		pairs, err := ReadFixture(name)
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		c.pairs = pairs
		return nil
	}
	pairs, err := ParseFixture("http", raw)
	if err != nil {
		return err
	}
	c.pairs = pairs
	return nil
}

func (e *Expect) check(c *Case) error {
	if e.Error != nil && (e.Result != nil || e.ResultSubset != nil || e.ResultSchema != nil) {
		return fmt.Errorf("expect: error and a result expectation exclude each other (a call either fails or gives a result)")
	}
	if e.Error != nil && *e.Error == "" {
		return fmt.Errorf("expect.error: must not be empty (it is text the error must contain)")
	}
	if e.ResultSchema != nil {
		s, err := schema.Compile("expect.result_schema", e.ResultSchema, schema.Draft2020)
		if err != nil {
			return err
		}
		c.schema = s
	}
	for i, l := range e.Logs {
		if l == "" {
			return fmt.Errorf("expect.logs[%d]: must not be empty", i)
		}
	}
	return nil
}

// call is the Call the case makes (without its HTTP transport).
func (c *Case) call() Call {
	call := Call{Input: c.Input, Hook: c.Hook}
	if c.Grants != nil {
		call.Grants = *c.Grants
	}
	if len(c.Config) > 0 {
		cfg := make(map[string]string, len(c.Config)+len(call.Grants.Config))
		for k, v := range call.Grants.Config {
			cfg[k] = v
		}
		for k, v := range c.Config {
			cfg[k] = v
		}
		call.Grants.Config = cfg
	}
	if c.Limits != nil {
		call.Limits = *c.Limits
	}
	return call
}

// ReadCases reads a cases file, or every *.json file of a directory (sorted by name)
// except fixtures, whose names end in .http.json.
func ReadCases(path string) ([]*CasesFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	paths := []string{path}
	if st.IsDir() {
		paths = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("read cases: %w", err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.Type().IsRegular() && strings.HasSuffix(n, ".json") && !strings.HasSuffix(n, ".http.json") {
				paths = append(paths, filepath.Join(path, n))
			}
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			return nil, fmt.Errorf("read cases: %s holds no cases file (*.json)", path)
		}
	}
	var files []*CasesFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read cases: %w", err)
		}
		f, err := ParseCases(p, data)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// Marshal renders the file as it is written back by Update: indented JSON, in the
// form (array or {"cases": [...]}) it was read in.
func (f *CasesFile) Marshal() ([]byte, error) {
	var v any = f.Cases
	if f.wrapped {
		v = map[string]any{"cases": f.Cases}
	}
	// Written as a person would: "<" and ">" as they are, not \u003c and \u003e.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
