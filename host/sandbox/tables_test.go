package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestTableGrowthBounded: table.grow allocates host memory outside the linear memory
// limit, so a plugin's tables are capped at what it declares.
func TestTableGrowthBounded(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "tablegrow")
	resp, err := m.Execute(context.Background(), req(`{}`))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if string(resp.Output) != "1" {
		t.Fatalf("output = %s, want 1 (table.grow refused)", resp.Output)
	}
}

func TestTableLimitsAtLoad(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	_, err := rt.Load(context.Background(), wasmFile(t, "hugetable"), "hugetable.wasm")
	if KindOf(err) != KindInvalid {
		t.Fatalf("Load: err = %v, want %s", err, KindInvalid)
	}
	mustContain(t, "error", err.Error(), "declares 268435456 entries")
}

func TestCapTables(t *testing.T) {
	t.Parallel()
	hdr := "\x00asm\x01\x00\x00\x00"
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{name: "no max gets the cap", in: hdr + "\x04\x04\x01\x70\x00\x05",
			want: hdr + "\x04\x07\x01\x70\x01\x05\x80\x80\x40"},
		{name: "small max kept", in: hdr + "\x04\x05\x01\x70\x01\x02\x03",
			want: hdr + "\x04\x05\x01\x70\x01\x02\x03"},
		{name: "huge max lowered", in: hdr + "\x04\x09\x01\x70\x01\x02\xff\xff\xff\xff\x0f",
			want: hdr + "\x04\x07\x01\x70\x01\x02\x80\x80\x40"},
		{name: "no table section", in: hdr + "\x01\x01\x00", want: hdr + "\x01\x01\x00"},
		{name: "truncated is left to the compiler", in: hdr + "\x04\x09\x01", want: hdr + "\x04\x09\x01"},
		{name: "huge min", in: hdr + "\x04\x08\x01\x70\x00\xff\xff\xff\xff\x0f", err: true},
		{name: "too many", in: hdr + "\x04\x10\x05" + "\x70\x00\x00\x70\x00\x00\x70\x00\x00\x70\x00\x00\x70\x00\x00", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := capTables([]byte(tt.in))
			if tt.err {
				if err == nil {
					t.Fatalf("capTables = %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("capTables = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestInputSchemaNoExternalRefs: a plugin's schema is untrusted, so compiling it must not
// read files (or anything else) named by $ref: file:///dev/zero would exhaust the host's
// memory, other files would be disclosed through validation.
func TestInputSchemaNoExternalRefs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(path, []byte(`{"type":"string"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://" + path, "http://127.0.0.1:1/s.json"} {
		_, err := compileInputSchema("p", []byte(`{"$ref":"`+ref+`"}`))
		if err == nil {
			t.Fatalf("compileInputSchema with $ref %s: want an error", ref)
		}
		mustContain(t, "error", err.Error(), "self-contained")
	}
	if _, err := compileInputSchema("p", []byte(`{"$schema":"http://json-schema.org/draft-07/schema#","$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}}}`)); err != nil {
		t.Fatalf("local refs and a standard $schema must compile: %v", err)
	}
}
