package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// cloneFixture is a finished tree: root aggregates mid; mid depends on up (a sibling)
// and has a child leaf.
func cloneFixture(v *env, prefix string) {
	v.t.Helper()
	p := func(s string) string { return prefix + s }
	root := v.create(
		spec{id: p("root"), method: "aggregate_results_executor", deps: req(p("mid"))},
		spec{id: p("up"), inputs: map[string]any{"u": 1}},
		spec{id: p("mid"), deps: req(p("up")), params: map[string]any{"out": map[string]any{"m": 1}}},
		spec{id: p("leaf"), parent: p("mid"), deps: opt(p("mid"))},
	)
	if res := v.run(root, RunOptions{}); res.Status != task.Completed {
		v.t.Fatalf("fixture run = %+v", res)
	}
}

// byOriginal indexes clones by original_task_id.
func byOriginal(ts []*task.Task) map[string]*task.Task {
	m := map[string]*task.Task{}
	for _, c := range ts {
		m[c.OriginalTaskID] = c
	}
	return m
}

func treeSize(v *env, id string) int {
	v.t.Helper()
	ts, err := v.st.Tree(context.Background(), id)
	if err != nil {
		v.t.Fatal(err)
	}
	return len(ts)
}

func TestCloneLink(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "l-")
	links, err := v.e.Clone(context.Background(), "l-mid", CloneOptions{Mode: CloneLink})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 {
		t.Fatalf("linked %d tasks, want mid, leaf and the upstream up", len(links))
	}
	by := byOriginal(links)
	for _, orig := range []string{"l-mid", "l-leaf", "l-up"} {
		l := by[orig]
		o := v.get(orig)
		switch {
		case l == nil:
			t.Fatalf("no link to %s", orig)
		case l.OriginType != "link" || l.Status != task.Completed || l.CompletedAt.IsZero() || !l.CompletedAt.Equal(o.CompletedAt):
			t.Fatalf("link %s: origin %q status %s completed_at %v", l.ID, l.OriginType, l.Status, l.CompletedAt)
		case l.Inputs != nil || l.Params != nil || l.Schemas != nil || l.Result != nil:
			t.Fatalf("link %s carries data: %+v", l.ID, l)
		case l.Name != o.Name || l.ID == o.ID:
			t.Fatalf("link %s: name %q id %q", l.ID, l.Name, l.ID)
		case !o.HasReferences:
			t.Fatalf("original %s not marked has_references", orig)
		}
		stored := v.get(l.ID)
		if stored.OriginType != "link" || stored.OriginalTaskID != orig {
			t.Fatalf("stored link %+v", stored)
		}
	}
	nr := links[0]
	if nr != by["l-mid"] || nr.ParentID != "" || nr.TaskTreeID != nr.ID || !nr.HasChildren {
		t.Fatalf("new root = %+v", nr)
	}
	if d := nr.Dependencies; len(d) != 1 || d[0].ID != by["l-up"].ID {
		t.Fatalf("deps not remapped: %+v", d)
	}
	// A link of a link refers to the most original task.
	again, err := v.e.Clone(context.Background(), nr.ID, CloneOptions{Mode: CloneLink, Shallow: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].OriginalTaskID != "l-mid" || again[1].OriginalTaskID != "l-up" {
		t.Fatalf("link of a link = %+v / %+v", again[0], again[1])
	}
	// A copy of a link copies what the link stands for and runs.
	copies, err := v.e.Clone(context.Background(), nr.ID, CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb := byOriginal(copies)
	if c := cb["l-up"]; c == nil || c.OriginType != "copy" || c.Status != task.Pending || c.Method() != "fake" || c.Inputs["u"] == nil {
		t.Fatalf("copy of link = %+v", c)
	}
	if res := v.run(copies[0].ID, RunOptions{}); res.Status != task.Completed || res.Counts[task.Completed] != 3 {
		t.Fatalf("run of the copy of a link = %+v", res)
	}
}

func TestCloneArchive(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "a-")
	before := v.get("a-mid")
	preview, err := v.e.Clone(context.Background(), "a-mid", CloneOptions{Mode: CloneArchive, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(preview) != 2 || preview[0].ID != "a-mid" || preview[0].OriginType != "archive" {
		t.Fatalf("archive preview = %+v", preview)
	}
	if v.get("a-mid").OriginType != before.OriginType {
		t.Fatal("a dry run archived")
	}
	got, err := v.e.Clone(context.Background(), "a-mid", CloneOptions{Mode: CloneArchive})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a-mid" || got[1].ID != "a-leaf" {
		t.Fatalf("archived %+v, want mid and leaf (no new ids, no dependencies pulled in)", got)
	}
	for _, id := range []string{"a-mid", "a-leaf"} {
		if st := v.get(id); st.OriginType != "archive" || st.Status != task.Completed || st.Result == nil {
			t.Fatalf("%s after archive: %+v", id, st)
		}
	}
	if v.get("a-up").OriginType == "archive" || treeSize(v, "a-root") != 4 {
		t.Fatal("archive touched more than the subtree or created tasks")
	}
}

func TestCloneMixed(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "m-")
	out, err := v.e.Clone(context.Background(), "m-mid", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"m-up"}})
	if err != nil {
		t.Fatal(err)
	}
	by := byOriginal(out)
	if by["m-up"].OriginType != "link" || by["m-up"].Status != task.Completed {
		t.Fatalf("listed task not linked: %+v", by["m-up"])
	}
	for _, id := range []string{"m-mid", "m-leaf"} {
		if c := by[id]; c.OriginType != "copy" || c.Status != task.Pending || c.Method() != "fake" {
			t.Fatalf("%s not copied: %+v", id, c)
		}
	}
	// The link reads through to its original: make the original's result recognisable
	// (the copy of mid already carries "done": "m-up" in the inputs it was copied with).
	if _, err := v.st.Update(context.Background(), "m-up", func(t *task.Task) error {
		t.Result = map[string]any{"done": "through the link"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The copies run; the link counts as a completed dependency.
	res := v.run(out[0].ID, RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != 3 {
		t.Fatalf("mixed run = %+v", res)
	}
	if v.get(by["m-up"].ID).OriginType != "link" {
		t.Fatal("the run changed the link")
	}
	// The copy of mid got the original up's result through the link.
	if in := v.get(by["m-mid"].ID).Inputs; in["done"] != "through the link" {
		t.Fatalf("copy of mid did not get the linked result injected: inputs %v", in)
	}
}

// TestLinkStandsForItsOriginal: in a run a link stands for its original exactly as the API
// shows it (task.Task.WithOriginal): its dependents get the original's result even when
// the link itself carries a result (tasks.update may write one on it).
func TestLinkStandsForItsOriginal(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "ls-")
	out, err := v.e.Clone(context.Background(), "ls-mid", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"ls-up"}})
	if err != nil {
		t.Fatal(err)
	}
	by := byOriginal(out)
	set := func(id string, result any) {
		t.Helper()
		if _, err := v.st.Update(context.Background(), id, func(t *task.Task) error { t.Result = result; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set("ls-up", map[string]any{"done": "the original's"})
	set(by["ls-up"].ID, map[string]any{"done": "the link's own"})
	if res := v.run(out[0].ID, RunOptions{}); res.Status != task.Completed {
		t.Fatalf("run = %+v", res)
	}
	if in := v.get(by["ls-mid"].ID).Inputs; in["done"] != "the original's" {
		t.Fatalf("copy of mid got %v through the link, want the original's result", in["done"])
	}
}

func TestCloneResetFieldsAndDryRun(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "r-")
	preview, err := v.e.Clone(context.Background(), "r-root", CloneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(preview) != 4 || v.get("r-root").HasReferences {
		t.Fatalf("dry run: %d tasks, source marked %v", len(preview), v.get("r-root").HasReferences)
	}
	for _, p := range preview {
		if _, err := v.st.Get(context.Background(), p.ID); err == nil {
			t.Fatalf("dry run stored %s", p.ID)
		}
	}
	reset := map[string]any{"name": "renamed", "priority": json.Number("0"), "inputs": map[string]any{"k": "v"},
		"params": map[string]any{"p": "q", "limits": map[string]any{"timeout_ms": json.Number("100")}},
		"status": "pending", "progress": json.Number("0"), "result": nil, "error": nil, "started_at": nil, "completed_at": nil}
	copies, err := v.e.Clone(context.Background(), "r-root", CloneOptions{ResetFields: reset, UserID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	root := copies[0]
	if root.Name != "renamed" || root.Inputs["k"] != "v" {
		t.Fatalf("root overrides not applied: %+v", root)
	}
	// params.limits become the copy's limits, as in a submission.
	if st := v.get(root.ID); st.Limits != (task.Limits{TimeoutMS: 100}) || st.Params["p"] != "q" || st.Params["limits"] != nil {
		t.Fatalf("stored root copy: limits %+v, params %v; want timeout_ms 100 and params without limits", st.Limits, st.Params)
	}
	for _, c := range copies {
		if c.Priority != 0 || c.UserID != "carol" || c.Status != task.Pending {
			t.Fatalf("copy %s: priority %d user %q status %s", c.ID, c.Priority, c.UserID, c.Status)
		}
		if c != root && c.Name == "renamed" {
			t.Fatalf("name applied to a non-root copy %s", c.ID)
		}
	}
	if st := v.get(root.ID); st.Name != "renamed" || st.Priority != 0 {
		t.Fatalf("stored root copy %+v", st)
	}
}

func TestCloneRefusals(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "x-")
	v.create(spec{id: "p-root", deps: req("p-a")}, spec{id: "p-a", status: task.Failed})
	owned := buildTree([]spec{{id: "o-root"}})
	owned[0].UserID = "alice"
	if err := v.st.Create(context.Background(), owned); err != nil {
		t.Fatal(err)
	}
	v.run("o-root", RunOptions{})

	cases := []struct {
		name string
		src  string
		opts CloneOptions
		code apferr.Code
	}{
		{"unknown mode", "x-mid", CloneOptions{Mode: "snapshot"}, apferr.InvalidParams},
		{"link not completed", "p-root", CloneOptions{Mode: CloneLink}, apferr.InvalidTaskSchema},
		{"archive not completed", "p-root", CloneOptions{Mode: CloneArchive}, apferr.InvalidTaskSchema},
		{"archive failed leaf", "p-a", CloneOptions{Mode: CloneArchive}, apferr.InvalidTaskSchema},
		{"mixed without ids", "x-mid", CloneOptions{Mode: CloneMixed}, apferr.InvalidParams},
		{"mixed id outside the set", "x-mid", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"x-root"}}, apferr.InvalidParams},
		{"mixed link not completed", "p-root", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"p-a"}}, apferr.InvalidTaskSchema},
		{"link ids outside mixed", "x-mid", CloneOptions{LinkTaskIDs: []string{"x-up"}}, apferr.InvalidParams},
		{"reset_fields on link", "x-mid", CloneOptions{Mode: CloneLink, ResetFields: map[string]any{"name": "n"}}, apferr.InvalidParams},
		{"reset status", "x-mid", CloneOptions{ResetFields: map[string]any{"status": "completed"}}, apferr.InvalidParams},
		{"reset unknown field", "x-mid", CloneOptions{ResetFields: map[string]any{"user_id": "mallory"}}, apferr.InvalidParams},
		{"reset priority range", "x-mid", CloneOptions{ResetFields: map[string]any{"priority": json.Number("7")}}, apferr.InvalidParams},
		{"reset empty name", "x-mid", CloneOptions{ResetFields: map[string]any{"name": " "}}, apferr.InvalidParams},
		{"reset inputs not object", "x-mid", CloneOptions{ResetFields: map[string]any{"inputs": "x"}}, apferr.InvalidParams},
		{"reset unknown limit", "x-mid", CloneOptions{ResetFields: map[string]any{"params": map[string]any{"limits": map[string]any{"foo": json.Number("1")}}}}, apferr.InvalidParams},
		{"cross-user link", "o-root", CloneOptions{Mode: CloneLink, UserID: "bob"}, apferr.Unauthorized},
		{"unknown task", "nope", CloneOptions{}, apferr.TaskNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.e.Clone(context.Background(), tc.src, tc.opts)
			if err == nil {
				t.Fatal("clone succeeded")
			}
			if got := apferr.CodeOf(err); got != tc.code {
				t.Fatalf("error %v: code %d, want %d", err, got, tc.code)
			}
		})
	}
	if n := treeSize(v, "x-root"); n != 4 {
		t.Fatalf("refused clones changed the source tree: %d tasks", n)
	}
	if v.get("p-root").HasReferences || v.get("o-root").HasReferences {
		t.Fatal("a refused clone marked its source")
	}
	// The owner may link her own task.
	if _, err := v.e.Clone(context.Background(), "o-root", CloneOptions{Mode: CloneLink, UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
}

// TestCloneNewID: CloneOptions.NewID chooses the ids of the new tasks, and the copies'
// parents, dependencies and tree id follow them.
func TestCloneNewID(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "n-")
	n := 0
	newID := func() string { n++; return "alice/new-" + string(rune('0'+n)) }
	out, err := v.e.Clone(context.Background(), "n-mid", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"n-up"}, NewID: newID})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || n != 3 {
		t.Fatalf("%d new tasks, NewID called %d times", len(out), n)
	}
	ids := map[string]bool{}
	for _, c := range out {
		ids[c.ID] = true
	}
	for _, c := range out {
		if c.TaskTreeID != out[0].ID || (c.ParentID != "" && !ids[c.ParentID]) {
			t.Errorf("%s: tree %q parent %q", c.ID, c.TaskTreeID, c.ParentID)
		}
		for _, d := range c.Dependencies {
			if !ids[d.ID] {
				t.Errorf("%s depends on %s, not a new task", c.ID, d.ID)
			}
		}
	}
	for _, id := range []string{"alice/new-1", "alice/new-2", "alice/new-3"} {
		if !ids[id] {
			t.Errorf("no new task %s among %v", id, ids)
		}
	}
}
