package submit

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

func digestOf(t *testing.T, data string, ns task.Namespace) string {
	t.Helper()
	sub, err := Decode([]byte(data), Options{Namespace: ns})
	if err != nil {
		t.Fatalf("Decode(%s): %v", data, err)
	}
	d, err := sub.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

func TestDigest(t *testing.T) {
	t.Parallel()
	const base = `[{"id":"r","name":"root","schemas":{"method":"m"},"inputs":{"a":1,"b":[1,2]},"dependencies":["c"]},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`
	for _, c := range []struct {
		name string
		data string
		ns   task.Namespace
		same bool
	}{
		{"white space and key order", `[ {"inputs":{"b":[1, 2],"a":1},"name":"root","id":"r","dependencies":["c"],"schemas":{"method":"m"}},
			{"parent_id":"r","schemas":{"method":"m"},"name":"c"} ]`, "", true},
		{"wrapped form", `{"tasks":` + base + `}`, "", true},
		{"an idempotency_key and ignored fields", `{"idempotency_key":"k","tasks":[{"id":"r","name":"root","schemas":{"method":"m"},"inputs":{"a":1,"b":[1,2]},"dependencies":["c"],"result":"x"},{"name":"c","parent_id":"r","schemas":{"method":"m"},"progress":0.5}]}`, "", true},
		{"an input changed", `[{"id":"r","name":"root","schemas":{"method":"m"},"inputs":{"a":2,"b":[1,2]},"dependencies":["c"]},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`, "", false},
		{"a number spelled differently", `[{"id":"r","name":"root","schemas":{"method":"m"},"inputs":{"a":1.0,"b":[1,2]},"dependencies":["c"]},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`, "", false},
		{"tasks reordered", `[{"name":"c","parent_id":"r","schemas":{"method":"m"}},{"id":"r","name":"root","schemas":{"method":"m"},"inputs":{"a":1,"b":[1,2]},"dependencies":["c"]}]`, "", false},
		{"a priority given", `[{"id":"r","name":"root","priority":2,"schemas":{"method":"m"},"inputs":{"a":1,"b":[1,2]},"dependencies":["c"]},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`, "", false},
		{"another namespace", base, "alice", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := digestOf(t, c.data, c.ns) == digestOf(t, base, ""); got != c.same {
				t.Fatalf("same digest = %v, want %v", got, c.same)
			}
		})
	}
	// An id given qualified or not names the same task of the namespace.
	q := `[{"id":"alice/r","name":"root","schemas":{"method":"m"},"inputs":{"a":1,"b":[1,2]},"dependencies":["c"]},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`
	if digestOf(t, q, "alice") != digestOf(t, base, "alice") {
		t.Fatal("r and alice/r in namespace alice have different digests")
	}
}

// FuzzDigest: every decodable submission has a digest, the same on every decoding (no
// map order or other chance in the canonical form).
func FuzzDigest(f *testing.F) {
	for _, s := range []string{`[{"name":"a","schemas":{"method":"m"},"inputs":{"x":1.50}}]`, `{"tasks":[{"name":"a"}]}`,
		`{"name":"a","priority":1,"dependencies":[{"name":"b","required":false}]}`, `[{"schedule_start_at":"2026-01-01T00:00:00+02:00"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sub, err := Decode(data, Options{MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		d1, err := sub.Digest()
		if err != nil {
			t.Fatalf("Digest of a decoded submission: %v", err)
		}
		again, err := Decode(data, Options{MaxBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		if d2, _ := again.Digest(); d2 != d1 {
			t.Fatalf("two decodings, two digests: %s %s", d1, d2)
		}
	})
}
