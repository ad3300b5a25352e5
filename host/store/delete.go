package store

// DeleteGraph is what CheckDelete reads of a backend, inside the transaction of one
// Delete. doomed holds every id of the Delete.
type DeleteGraph interface {
	// Exists reports whether task id is stored (and visible).
	Exists(id string) (bool, error)
	// ChildOutside returns the first child of id in Children's order that is not in
	// doomed, or "".
	ChildOutside(id string, doomed map[string]bool) (string, error)
	// DependentOutside returns the dependent of id with the smallest id that is not in
	// doomed, or "".
	DependentOutside(id string, doomed map[string]bool) (string, error)
}

// CheckDelete applies Delete's refusal rule to ids, so that every backend refuses the
// same Deletes with the same errors: the first id, in the order given, that does not
// exist fails the Delete with NotFound, and the first that has a child (looked at
// first) or a dependent outside ids fails it with DeleteBlocked. It returns the distinct
// ids, in order. g is asked about each distinct id at most once per method, in order,
// and about no id after the first problem; its errors are returned as they are.
func CheckDelete(ids []string, g DeleteGraph) ([]string, error) {
	doomed := make(map[string]bool, len(ids))
	distinct := make([]string, 0, len(ids))
	for _, id := range ids {
		if !doomed[id] {
			doomed[id] = true
			distinct = append(distinct, id)
		}
	}
	for _, id := range distinct {
		if err := checkDeleteOne(id, doomed, g); err != nil {
			return nil, err
		}
	}
	return distinct, nil
}

func checkDeleteOne(id string, doomed map[string]bool, g DeleteGraph) error {
	ok, err := g.Exists(id)
	if err != nil {
		return err
	}
	if !ok {
		return NotFound(id)
	}
	for _, rel := range []struct {
		outside func(string, map[string]bool) (string, error)
		reason  string
	}{{g.ChildOutside, "child"}, {g.DependentOutside, "dependent"}} {
		other, err := rel.outside(id, doomed)
		if err != nil {
			return err
		}
		if other != "" {
			return DeleteBlocked(id, other, rel.reason)
		}
	}
	return nil
}

// EmptiedParents returns the parents that a Delete of doomed (CheckDelete's ids) leaves
// without a child: each parent of a doomed task that is stored, not doomed itself, and
// whose children are all doomed, once, in the order found. Delete clears their
// has_children in its transaction. parentOf returns a doomed task's parent id ("" for a
// root).
func EmptiedParents(doomed []string, parentOf func(id string) string, g DeleteGraph) ([]string, error) {
	in := make(map[string]bool, len(doomed))
	for _, id := range doomed {
		in[id] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range doomed {
		p := parentOf(id)
		if p == "" || in[p] || seen[p] {
			continue
		}
		seen[p] = true
		exists, err := g.Exists(p) // a parent_id may name a task that is gone
		if err != nil {
			return nil, err
		}
		if !exists {
			continue
		}
		other, err := g.ChildOutside(p, in)
		if err != nil {
			return nil, err
		}
		if other == "" {
			out = append(out, p)
		}
	}
	return out, nil
}
