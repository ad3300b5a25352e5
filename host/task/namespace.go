package task

import (
	"net/url"
	"strings"
)

// Namespace is the id namespace of one user when authentication is on: every task of a
// non-admin user has an id "<namespace>/<name>" (docs/decisions.md §12). The zero
// Namespace is "no namespace": ids are used as given (admins, no authentication).
//
// A Namespace never contains "/", and two different users never share one, so an id of
// one user's namespace is never an id of another's: a user who can only name ids of its
// own namespace can only ever collide with its own tasks.
type Namespace string

// NamespaceOf returns the namespace of user: url.PathEscape(user), which escapes "/"
// (and "%", so the mapping is one to one). The empty user has the zero Namespace.
func NamespaceOf(user string) Namespace {
	return Namespace(url.PathEscape(user))
}

// Qualify returns id in the namespace: id itself when it already starts with
// "<namespace>/" (so Qualify is idempotent, and "t1" and "<namespace>/t1" name the same
// task), else "<namespace>/" + id. The empty id ("no id given") and the zero Namespace
// return id unchanged.
//
// Pitfall: the result is longer than id; length limits apply to the qualified id.
func (ns Namespace) Qualify(id string) string {
	if ns == "" || id == "" {
		return id
	}
	prefix := string(ns) + "/"
	if strings.HasPrefix(id, prefix) {
		return id
	}
	return prefix + id
}
