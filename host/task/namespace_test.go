package task

import (
	"strings"
	"testing"
)

func TestNamespaceQualify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		user, id, want string
	}{
		{"alice", "t1", "alice/t1"},
		{"alice", "alice/t1", "alice/t1"},
		{"alice", "bob/t1", "alice/bob/t1"},
		{"alice", "alice", "alice/alice"},
		{"alice", "alice/", "alice/"},
		{"alice", "", ""},
		{"alice/b", "t9", "alice%2Fb/t9"},
		{"alice/b", "alice/b/t9", "alice%2Fb/alice/b/t9"},
		{"a%2Fb", "t", "a%252Fb/t"},
		{"", "t1", "t1"},
	}
	for _, c := range cases {
		if got := NamespaceOf(c.user).Qualify(c.id); got != c.want {
			t.Errorf("NamespaceOf(%q).Qualify(%q) = %q, want %q", c.user, c.id, got, c.want)
		}
	}
}

// FuzzNamespaceQualify checks the two properties the API relies on: qualifying is
// idempotent, and two different users never get the same id from any input.
func FuzzNamespaceQualify(f *testing.F) {
	for _, s := range [][3]string{{"alice", "alice/b", "t1"}, {"alice", "bob", "bob/t1"}, {"a%2Fb", "a/b", "x"}, {"a", "a/", "/"}} {
		f.Add(s[0], s[1], s[2], s[2])
	}
	f.Fuzz(func(t *testing.T, u1, u2, id1, id2 string) {
		n1, n2 := NamespaceOf(u1), NamespaceOf(u2)
		q1, q2 := n1.Qualify(id1), n2.Qualify(id2)
		if n1.Qualify(q1) != q1 {
			t.Fatalf("not idempotent: %q -> %q -> %q", id1, q1, n1.Qualify(q1))
		}
		if u1 != "" && strings.Contains(string(n1), "/") {
			t.Fatalf("namespace %q of %q contains /", n1, u1)
		}
		if u1 != "" && u2 != "" && u1 != u2 && id1 != "" && id2 != "" && q1 == q2 {
			t.Fatalf("users %q and %q share id %q (from %q and %q)", u1, u2, q1, id1, id2)
		}
	})
}
