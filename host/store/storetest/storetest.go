// Package storetest is the conformance suite of store.Store: every guarantee of package
// store's documentation and of each method's documentation is a subtest of Run. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTestStore(t) })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Run runs the conformance suite. newStore must return a new, empty store for each call;
// Run closes it when the subtest ends, checking Close's error (the "Close" subtest closes
// its store itself). newStore may arrange a Close of its own too: Close may be called
// again and returns nil.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if c.name != "Close" {
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
			}
			c.fn(t, s)
		})
	}
}

var cases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CreateGetRoundTrip", testCreateGet},
	{"CreateRefusesExistingID", testCreateExisting},
	{"CreateRefusesDuplicateInBatch", testCreateDuplicateInBatch},
	{"CreateValidates", testCreateValidates},
	{"GetMissing", testGetMissing},
	{"ReadsReturnCopies", testCopies},
	{"ReadsReturnWireForm", testWireForm},
	{"Update", testUpdate},
	{"UpdateStampsUpdatedAt", testUpdateStamps},
	{"UpdateFnErrorWritesNothing", testUpdateFnError},
	{"UpdateIllegalTransition", testUpdateIllegalTransition},
	{"UpdateIdentityFields", testUpdateIdentity},
	{"UpdateMissing", testUpdateMissing},
	{"UpdateManyInOrder", testUpdateManyOrder},
	{"UpdateManyAllOrNothing", testUpdateManyAllOrNothing},
	{"UpdateManyKeptTask", testUpdateManyKept},
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"ListOrderAndPaging", testListPaging},
	{"ListLimits", testListLimits},
	{"ListFilters", testListFilters},
	{"ListSearch", testListSearch},
	{"IndexesFollowUpdates", testIndexesFollowUpdates},
	{"CountByStatusIsOneSnapshot", testCountByStatusSnapshot},
	{"Children", testChildren},
	{"Tree", testTree},
	{"Dependents", testDependents},
	{"DependentsOrder", testDependentsOrder},
	{"DeleteTree", testDeleteTree},
	{"DeleteLastChildClearsHasChildren", testDeleteLastChild},
	{"DeleteRefusesOrphans", testDeleteRefuses},
	{"DeleteMissing", testDeleteMissing},
	{"CancelledContext", testCancelledContext},
	{"Close", testClose},
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// mk returns a pending task of tree "tree" created at base+seq seconds.
func mk(id, parent string, seq int) *task.Task {
	return &task.Task{
		ID: id, ParentID: parent, TaskTreeID: "tree", Name: "task " + id, Status: task.Pending,
		Priority: task.DefaultPriority, Seq: seq, Inputs: map[string]any{},
		CreatedAt: base.Add(time.Duration(seq) * time.Second), UpdatedAt: base,
	}
}

// tree returns a root r with children a (priority 3), b (priority 1), c (priority 1),
// c depending on a and b.
func tree(prefix string) []*task.Task {
	r := mk(prefix+"r", "", 0)
	a, b, c := mk(prefix+"a", r.ID, 1), mk(prefix+"b", r.ID, 2), mk(prefix+"c", r.ID, 3)
	for _, t := range []*task.Task{r, a, b, c} {
		t.TaskTreeID = prefix + "tree"
	}
	r.HasChildren = true
	a.Priority, b.Priority, c.Priority = 3, 1, 1
	c.Dependencies = []task.Dependency{{ID: a.ID, Required: true}, {ID: b.ID, Required: false}}
	return []*task.Task{r, a, b, c}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func create(t *testing.T, s store.Store, tasks ...*task.Task) {
	t.Helper()
	if err := s.Create(ctx(t), tasks); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func get(t *testing.T, s store.Store, id string) *task.Task {
	t.Helper()
	got, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

func wantCode(t *testing.T, err error, code apferr.Code) *apferr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want code %d (%s)", code, code)
	}
	e := apferr.As(err)
	if e == nil || e.Code != code {
		t.Fatalf("error = %v (code %d), want code %d (%s)", err, apferr.CodeOf(err), code, code)
	}
	return e
}

func wantMissing(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := s.Get(ctx(t), id)
		wantCode(t, err, apferr.TaskNotFound)
	}
}

func wireOf(t *testing.T, v *task.Task) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ids(ts []*task.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, got []*task.Task, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if g := ids(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("%s = %v, want %v", what, g, want)
	}
}

func dataField(e *apferr.Error, key string) any {
	m, _ := e.Data.(map[string]any)
	return m[key]
}

func testCreateGet(t *testing.T, s store.Store) {
	full := mk("full", "", 0)
	full.UserID, full.Name, full.Priority = "alice", "everything set", 0
	full.Inputs = map[string]any{"n": json.Number("12345678901234567890"), "s": "x", "l": []any{true, nil}}
	full.Params = map[string]any{"executor_id": "echo"}
	full.Schemas = map[string]any{"method": "echo"}
	full.Dependencies = []task.Dependency{{ID: "other", Required: true}}
	full.Limits = task.Limits{TimeoutMS: 1500, MemoryPages: 16}
	full.OriginType, full.OriginalTaskID, full.HasReferences = "copy", "orig", true
	full.ScheduleType, full.ScheduleExpression, full.ScheduleEnabled = "cron", "* * * * *", true
	full.MaxRuns, full.RunCount, full.Attempts = 5, 1, 2
	full.NextRunAt = base.Add(time.Hour)
	full.HookErrors = []string{"pre-hook x failed"}
	full.InputsBeforeHooks = map[string]any{"n": json.Number("1"), "s": "before"}
	full.OwnInputs = map[string]any{} // empty, not null: Inputs are not the own inputs
	full.Plugin = "sha256:abc"
	full.Retry = &task.RetryState{MaxAttempts: 3, NextAttemptAt: base.Add(time.Minute), History: []task.Attempt{
		{Attempt: 1, StartedAt: base, EndedAt: base.Add(1500 * time.Microsecond), DurationMS: 1.5, Error: "HTTP 503", Kind: "error_result"},
		{Attempt: 2, StartedAt: base.Add(time.Second), EndedAt: base.Add(2 * time.Second), DurationMS: 1000}}}
	create(t, s, full)
	got := get(t, s, "full")
	if g, w := wireOf(t, got), wireOf(t, full); g != w {
		t.Fatalf("Get returned\n%s\nwant\n%s", g, w)
	}
}

func testCreateExisting(t *testing.T, s store.Store) {
	create(t, s, mk("x", "", 0))
	err := s.Create(ctx(t), []*task.Task{mk("new", "", 1), mk("x", "", 2)})
	e := wantCode(t, err, apferr.InvalidParams)
	if dataField(e, "task_id") != "x" {
		t.Fatalf("error data %v does not name task x", e.Data)
	}
	wantMissing(t, s, "new")
	if got := get(t, s, "x"); got.Seq != 0 {
		t.Fatalf("existing task was overwritten: seq %d", got.Seq)
	}
}

func testCreateDuplicateInBatch(t *testing.T, s store.Store) {
	err := s.Create(ctx(t), []*task.Task{mk("y", "", 0), mk("z", "", 1), mk("y", "", 2)})
	wantCode(t, err, apferr.InvalidParams)
	wantMissing(t, s, "y", "z")
}

func testCreateValidates(t *testing.T, s store.Store) {
	for _, c := range []struct {
		name  string
		bad   func() *task.Task
		field string // named in the error's data, when not ""
	}{
		{"null task", func() *task.Task { return nil }, ""},
		{"empty id", func() *task.Task { return mk("", "", 1) }, "id"},
		{"unknown status", func() *task.Task { x := mk("v1", "", 1); x.Status = "done"; return x }, "status"},
		{"id not UTF-8", func() *task.Task { return mk("v\xff", "", 1) }, "id"},
		{"parent not UTF-8", func() *task.Task { return mk("v2", "p\xff", 1) }, "parent_id"},
		{"id with a NUL byte", func() *task.Task { return mk("v\x00", "", 1) }, "id"},
		{"user with a NUL byte", func() *task.Task { x := mk("v3", "", 1); x.UserID = "u\x00"; return x }, "user_id"},
		{"dependency not UTF-8", func() *task.Task {
			x := mk("v3", "", 1)
			x.Dependencies = []task.Dependency{{ID: "ok"}, {ID: "d\xff"}}
			return x
		}, "dependencies[1].id"},
	} {
		err := s.Create(ctx(t), []*task.Task{mk("fine", "", 0), c.bad()})
		e := wantCode(t, err, apferr.InvalidParams)
		if c.field != "" && dataField(e, "field") != c.field {
			t.Errorf("%s: error data %v does not name field %s", c.name, e.Data, c.field)
		}
	}
	if n, err := s.Count(ctx(t), store.Filter{}); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v after refused creates, want 0", n, err)
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	_, err := s.Get(ctx(t), "nope")
	e := wantCode(t, err, apferr.TaskNotFound)
	if dataField(e, "task_id") != "nope" {
		t.Fatalf("error data %v does not name the task", e.Data)
	}
}

func testCopies(t *testing.T, s store.Store) {
	in := mk("c", "", 0)
	in.Inputs = map[string]any{"k": map[string]any{"deep": "v"}}
	create(t, s, in)
	in.Inputs["k"].(map[string]any)["deep"] = "changed by creator"
	in.Name = "changed by creator"

	got := get(t, s, "c")
	got.Inputs["k"].(map[string]any)["deep"] = "changed by reader"
	got.Name = "changed by reader"

	var kept *task.Task
	upd, err := s.Update(ctx(t), "c", func(t *task.Task) error { kept = t; return nil })
	if err != nil {
		t.Fatal(err)
	}
	kept.Name = "changed by fn after Update"
	upd.Name = "changed by Update's caller"

	listed, _, err := s.List(ctx(t), store.Filter{})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v", listed, err)
	}
	listed[0].Name = "changed by List's caller"

	again := get(t, s, "c")
	if again.Name != "task c" || again.Inputs["k"].(map[string]any)["deep"] != "v" {
		t.Fatalf("stored task was modified through a copy: name %q inputs %v", again.Name, again.Inputs)
	}
}

// roundTrip returns what decoding v's wire form gives.
func roundTrip(t *testing.T, v *task.Task) *task.Task {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out := new(task.Task)
	if err := out.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantWireForm fails unless got is want's wire form decoded (see wantSame).
func wantWireForm(t *testing.T, what string, got, want *task.Task) {
	t.Helper()
	wantSame(t, what, got, roundTrip(t, want))
}

// wantSame fails unless got and want are reflect.DeepEqual but for empty lists, which may
// be nil (task.Task.Clone makes them nil; both encode as []).
func wantSame(t *testing.T, what string, got, want *task.Task) {
	t.Helper()
	norm := func(x *task.Task) *task.Task {
		x = x.Clone()
		if len(x.Dependencies) == 0 {
			x.Dependencies = nil
		}
		if len(x.HookErrors) == 0 {
			x.HookErrors = nil
		}
		return x
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n%#v\nwant\n%#v", what, g, w)
	}
}

// testWireForm: whatever Go values a task is given, every read returns what decoding
// its wire form gives (times in UTC at microsecond precision, numbers as json.Number,
// null inputs and dependencies as empty), so that callers see the same values whichever
// backend stores it and whether or not it was just written.
func testWireForm(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC+1", 3600)
	x := mk("wf", "", 0)
	x.CreatedAt = time.Date(2025, 3, 1, 13, 0, 0, 123456789, zone)
	x.Inputs = map[string]any{"n": 7, "f": 1.5, "l": []any{int64(1), "s"}, "m": map[string]any{"k": uint8(2)}}
	x.MaxRuns = -1
	y := mk("wf-null", "", 1)
	y.Inputs, y.Dependencies = nil, nil
	create(t, s, x, y)
	wantWireForm(t, "Get after Create (want the decoding of the wire form)", get(t, s, "wf"), x)
	wantWireForm(t, "Get of a task with null inputs (want the decoding of the wire form)", get(t, s, "wf-null"), y)
	if n := get(t, s, "wf").Inputs["n"]; n != json.Number("7") {
		t.Fatalf("inputs.n read back as %#v, want json.Number(\"7\")", n)
	}

	at := time.Date(2025, 3, 1, 14, 0, 0, 987654321, zone)
	upd, err := s.Update(ctx(t), "wf", func(t *task.Task) error {
		if err := t.Start(at); err != nil {
			return err
		}
		t.Result = map[string]any{"answer": 42, "list": []any{1.25}}
		t.Usage = &task.Usage{DurationMS: 1.5}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantWireForm(t, "Update's result (want the decoding of its wire form)", upd, upd)
	stored := get(t, s, "wf")
	wantSame(t, "Get after Update (want what Update returned)", stored, upd)
	listed, _, err := s.List(ctx(t), store.Filter{Status: task.InProgress})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v; want one task", listed, err)
	}
	wantSame(t, "List (want what Get returns)", listed[0], stored)
	many, err := s.UpdateMany(ctx(t), []store.Mutation{{ID: "wf", Fn: func(t *task.Task) error {
		return t.Complete([]any{3, "x"}, at.Add(time.Nanosecond))
	}}})
	if err != nil {
		t.Fatal(err)
	}
	wantWireForm(t, "UpdateMany's result (want the decoding of its wire form)", many[0], many[0])
	wantSame(t, "Get after UpdateMany (want what UpdateMany returned)", get(t, s, "wf"), many[0])
}

func testUpdate(t *testing.T, s store.Store) {
	create(t, s, mk("u", "", 0))
	now := base.Add(time.Minute)
	got, err := s.Update(ctx(t), "u", func(t *task.Task) error { return t.Start(now) })
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != task.InProgress || got.Attempts != 1 || !got.StartedAt.Equal(now) {
		t.Fatalf("Update returned %+v", got)
	}
	if g, w := wireOf(t, get(t, s, "u")), wireOf(t, got); g != w {
		t.Fatalf("stored\n%s\nreturned\n%s", g, w)
	}
	got, err = s.Update(ctx(t), "u", func(t *task.Task) error {
		return t.Complete(map[string]any{"answer": 42}, now.Add(time.Second))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != task.Completed || fmt.Sprint(got.Result) != "map[answer:42]" {
		t.Fatalf("Update returned status %s result %v", got.Status, got.Result)
	}
}

func testUpdateStamps(t *testing.T, s store.Store) {
	create(t, s, mk("st", "", 0))
	before := time.Now().Add(-time.Second)
	got, err := s.Update(ctx(t), "st", func(t *task.Task) error { t.Progress = 0.5; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.After(before) {
		t.Fatalf("updated_at %v not stamped (before %v)", got.UpdatedAt, before)
	}
	set := base.Add(42 * time.Hour)
	got, err = s.Update(ctx(t), "st", func(t *task.Task) error { t.UpdatedAt = set; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(set) || !get(t, s, "st").UpdatedAt.Equal(set) {
		t.Fatalf("updated_at %v, want the value fn set, %v", got.UpdatedAt, set)
	}
}

func testUpdateFnError(t *testing.T, s store.Store) {
	create(t, s, mk("fe", "", 0))
	want := errors.New("fn says no")
	_, err := s.Update(ctx(t), "fe", func(t *task.Task) error { t.Name = "half-done"; return want })
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want fn's error", err)
	}
	if got := get(t, s, "fe"); got.Name != "task fe" {
		t.Fatalf("fn's change was written: name %q", got.Name)
	}
}

func testUpdateIllegalTransition(t *testing.T, s store.Store) {
	create(t, s, mk("it", "", 0))
	_, err := s.Update(ctx(t), "it", func(t *task.Task) error {
		t.Status, t.Name = task.Completed, "renamed"
		return nil
	})
	wantCode(t, err, apferr.InvalidTransition)
	_, err = s.Update(ctx(t), "it", func(t *task.Task) error { t.Status = "bogus"; return nil })
	wantCode(t, err, apferr.InvalidParams)
	if got := get(t, s, "it"); got.Status != task.Pending || got.Name != "task it" {
		t.Fatalf("task changed by refused update: %s %q", got.Status, got.Name)
	}
	n, err := s.Count(ctx(t), store.Filter{Status: task.Completed})
	if err != nil || n != 0 {
		t.Fatalf("Count(completed) = %d, %v after a refused transition", n, err)
	}
}

func testUpdateIdentity(t *testing.T, s store.Store) {
	create(t, s, mk("id", "", 0))
	for _, c := range []struct {
		field string
		fn    func(*task.Task)
	}{
		{"id", func(t *task.Task) { t.ID = "other" }},
		{"parent_id", func(t *task.Task) { t.ParentID = "p" }},
		{"task_tree_id", func(t *task.Task) { t.TaskTreeID = "t2" }},
		{"user_id", func(t *task.Task) { t.UserID = "mallory" }},
		{"created_at", func(t *task.Task) { t.CreatedAt = t.CreatedAt.Add(time.Second) }},
		{"seq", func(t *task.Task) { t.Seq = 9 }},
	} {
		_, err := s.Update(ctx(t), "id", func(t *task.Task) error { c.fn(t); return nil })
		e := wantCode(t, err, apferr.InvalidParams)
		if dataField(e, "field") != c.field {
			t.Errorf("changing %s: error data %v does not name the field", c.field, e.Data)
		}
	}
	if g, w := wireOf(t, get(t, s, "id")), wireOf(t, mk("id", "", 0)); g != w {
		t.Fatalf("task changed by refused updates:\n%s\nwant\n%s", g, w)
	}
}

func testUpdateMissing(t *testing.T, s store.Store) {
	_, err := s.Update(ctx(t), "ghost", func(*task.Task) error { return nil })
	wantCode(t, err, apferr.TaskNotFound)
	_, err = s.UpdateMany(ctx(t), []store.Mutation{{ID: "ghost", Fn: func(*task.Task) error { return nil }}})
	wantCode(t, err, apferr.TaskNotFound)
}

func testUpdateManyOrder(t *testing.T, s store.Store) {
	create(t, s, mk("m1", "", 0), mk("m2", "", 1))
	now := base.Add(time.Minute)
	got, err := s.UpdateMany(ctx(t), []store.Mutation{
		{ID: "m1", Fn: func(t *task.Task) error { return t.Start(now) }},
		{ID: "m2", Fn: func(t *task.Task) error { return t.Cancel("", now) }},
		// Sees the first mutation: in_progress → completed is legal, pending → completed not.
		{ID: "m1", Fn: func(t *task.Task) error { return t.Complete("done", now) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Status != task.InProgress || got[1].Status != task.Cancelled || got[2].Status != task.Completed {
		t.Fatalf("UpdateMany returned %v", got)
	}
	if get(t, s, "m1").Status != task.Completed || get(t, s, "m2").Status != task.Cancelled {
		t.Fatal("UpdateMany did not store the final states")
	}
	if n, _ := s.Count(ctx(t), store.Filter{Status: task.InProgress}); n != 0 {
		t.Fatalf("Count(in_progress) = %d, want 0", n)
	}
}

func testUpdateManyAllOrNothing(t *testing.T, s store.Store) {
	create(t, s, mk("a1", "", 0), mk("a2", "", 1))
	now := base.Add(time.Minute)
	_, err := s.UpdateMany(ctx(t), []store.Mutation{
		{ID: "a1", Fn: func(t *task.Task) error { return t.Start(now) }},
		{ID: "a2", Fn: func(t *task.Task) error { return t.Complete(nil, now) }}, // pending → completed
	})
	wantCode(t, err, apferr.InvalidTransition)
	_, err = s.UpdateMany(ctx(t), []store.Mutation{
		{ID: "a1", Fn: func(t *task.Task) error { return t.Start(now) }},
		{ID: "missing", Fn: func(t *task.Task) error { return nil }},
	})
	wantCode(t, err, apferr.TaskNotFound)
	if get(t, s, "a1").Status != task.Pending || get(t, s, "a2").Status != task.Pending {
		t.Fatal("a failed UpdateMany wrote part of its mutations")
	}
}

// testUpdateManyKept: a mutation's function may keep the task it was given, and a later
// function of the same UpdateMany may change that task: what is stored (the task, what
// List finds it by) is the task as its own mutation left it, here one that ends, and a
// later mutation of the same task starts from that.
func testUpdateManyKept(t *testing.T, s store.Store) {
	for _, again := range []bool{false, true} {
		id := fmt.Sprintf("k%v", again)
		create(t, s, mk(id, "", 0), mk("other-"+id, "", 1))
		now := base.Add(time.Minute)
		var kept *task.Task
		muts := []store.Mutation{
			{ID: id, Fn: func(x *task.Task) error { kept = x; return x.Cancel("", now) }},
			{ID: "other-" + id, Fn: func(*task.Task) error { kept.Name = "renamed"; return nil }},
		}
		want := task.Cancelled
		if again { // a third mutation resets the task
			muts = append(muts, store.Mutation{ID: id, Fn: func(x *task.Task) error { x.Status = task.Pending; return nil }})
			want = task.Pending
		}
		if _, err := s.UpdateMany(ctx(t), muts); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, id); got.Name != "task "+id || got.Status != want {
			t.Fatalf("%s is named %q, %s; want %q, %s", id, got.Name, got.Status, "task "+id, want)
		}
		for _, f := range []store.Filter{{Name: "renamed"}, {Name: "task " + id, Status: want}} {
			wantN := 1
			if f.Name == "renamed" {
				wantN = 0
			}
			if _, n, err := s.List(ctx(t), f); err != nil || n != wantN {
				t.Errorf("List(name %q, status %q) counts %d, %v; want %d", f.Name, f.Status, n, err, wantN)
			}
		}
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	const workers, per = 16, 20
	var all []*task.Task
	for i := range workers {
		all = append(all, mk(fmt.Sprintf("w%d", i), "", i))
	}
	all = append(all, mk("shared", "", workers))
	create(t, s, all...)
	var wg sync.WaitGroup
	errs := make(chan error, workers*per*2)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("w%d", i)
			for range per {
				for _, id := range []string{own, "shared"} {
					if _, err := s.Update(context.Background(), id, func(t *task.Task) error {
						t.RunCount++
						return nil
					}); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := get(t, s, "shared").RunCount; got != workers*per {
		t.Fatalf("shared run_count = %d, want %d: lost updates", got, workers*per)
	}
	for i := range workers {
		if got := get(t, s, fmt.Sprintf("w%d", i)).RunCount; got != per {
			t.Fatalf("w%d run_count = %d, want %d", i, got, per)
		}
	}
}

// testCountByStatusSnapshot: while tasks keep changing status, the counts of one
// CountByStatus always add up to the number of tasks stored, as they would not if each
// status were counted at another moment.
func testCountByStatusSnapshot(t *testing.T, s store.Store) {
	const n, rounds = 20, 15
	var ids []string
	for i := range n {
		x := mk(fmt.Sprintf("s%02d", i), "", i)
		ids = append(ids, x.ID)
		create(t, s, x)
	}
	now := base.Add(time.Minute)
	steps := []func(*task.Task) error{
		func(t *task.Task) error { return t.Start(now) },
		func(t *task.Task) error { return t.Complete(1, now) },
		func(t *task.Task) error { return t.Reset(now) },
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range rounds * len(steps) {
			for _, id := range ids {
				if _, err := s.Update(context.Background(), id, steps[i%len(steps)]); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	for reads := 1; ; reads++ {
		got, err := s.CountByStatus(ctx(t), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range got {
			total += c
		}
		if total != n {
			t.Fatalf("read %d: CountByStatus = %v, adding up to %d tasks, want %d", reads, got, total, n)
		}
		select {
		case <-done:
			close(errs)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
	}
}

// flat creates n roots (one tree each) with increasing created_at; ties in created_at
// are broken by seq.
func flat(t *testing.T, s store.Store, n int) {
	t.Helper()
	var ts []*task.Task
	for i := range n {
		x := mk(fmt.Sprintf("f%04d", i), "", i%2)
		x.TaskTreeID = x.ID
		x.CreatedAt = base.Add(time.Duration(i/2) * time.Millisecond)
		ts = append(ts, x)
	}
	create(t, s, ts...)
}

func testListPaging(t *testing.T, s store.Store) {
	flat(t, s, 7)
	page, total, err := s.List(ctx(t), store.Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if total != 7 {
		t.Fatalf("total = %d, want 7", total)
	}
	wantIDs(t, "page 1", page, "f0006", "f0005", "f0004")
	page, _, _ = s.List(ctx(t), store.Filter{Limit: 3, Offset: 3})
	wantIDs(t, "page 2", page, "f0003", "f0002", "f0001")
	page, total, _ = s.List(ctx(t), store.Filter{Limit: 3, Offset: 6})
	wantIDs(t, "page 3", page, "f0000")
	page, total2, _ := s.List(ctx(t), store.Filter{Offset: 10})
	wantIDs(t, "past the end", page)
	if total != 7 || total2 != 7 {
		t.Fatalf("totals %d, %d, want 7", total, total2)
	}
	n, err := s.Count(ctx(t), store.Filter{Limit: 1, Offset: 5})
	if err != nil || n != 7 {
		t.Fatalf("Count = %d, %v; want 7 (Limit and Offset ignored)", n, err)
	}
}

func testListLimits(t *testing.T, s store.Store) {
	flat(t, s, store.MaxLimit+5)
	page, total, err := s.List(ctx(t), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != store.DefaultLimit || total != store.MaxLimit+5 {
		t.Fatalf("default page: %d tasks of %d, want %d of %d", len(page), total, store.DefaultLimit, store.MaxLimit+5)
	}
	page, _, _ = s.List(ctx(t), store.Filter{Limit: store.MaxLimit + 100})
	if len(page) != store.MaxLimit {
		t.Fatalf("page with a limit over MaxLimit has %d tasks, want %d", len(page), store.MaxLimit)
	}
}

func testListFilters(t *testing.T, s store.Store) {
	t1, t2 := tree("p-"), tree("q-")
	for _, x := range t1 {
		x.UserID = "alice"
	}
	t2[0].UserID = "bob"
	t2[2].Status = task.Completed
	create(t, s, t1...)
	create(t, s, t2...)
	for _, c := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all", store.Filter{}, []string{"p-c", "q-c", "p-b", "q-b", "p-a", "q-a", "p-r", "q-r"}},
		{"status", store.Filter{Status: task.Completed}, []string{"q-b"}},
		{"user", store.Filter{UserID: "alice"}, []string{"p-c", "p-b", "p-a", "p-r"}},
		{"user and root", store.Filter{UserID: "bob", RootOnly: true}, []string{"q-r"}},
		{"tree", store.Filter{TreeID: "q-tree"}, []string{"q-c", "q-b", "q-a", "q-r"}},
		{"tree and status", store.Filter{TreeID: "q-tree", Status: task.Pending}, []string{"q-c", "q-a", "q-r"}},
		{"parent", store.Filter{ParentID: "p-r"}, []string{"p-c", "p-b", "p-a"}},
		{"parent and user", store.Filter{ParentID: "q-r", UserID: "alice"}, nil},
		{"root only", store.Filter{RootOnly: true}, []string{"p-r", "q-r"}},
		{"status and root", store.Filter{Status: task.Pending, RootOnly: true}, []string{"p-r", "q-r"}},
		{"unknown user", store.Filter{UserID: "carol"}, nil},
	} {
		got, total, err := s.List(ctx(t), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Same created_at and seq in both trees: the id orders them.
		wantIDs(t, c.name, got, c.want...)
		if total != len(c.want) {
			t.Fatalf("%s: total %d, want %d", c.name, total, len(c.want))
		}
		if n, err := s.Count(ctx(t), c.f); err != nil || n != len(c.want) {
			t.Fatalf("%s: Count = %d, %v, want %d", c.name, n, err, len(c.want))
		}
		checkCountByStatus(t, s, c.name, c.f)
	}
}

// checkCountByStatus checks CountByStatus(f) against the statuses of the tasks List
// returns for f without its status and paging, which CountByStatus ignores.
func checkCountByStatus(t *testing.T, s store.Store, name string, f store.Filter) {
	t.Helper()
	lf := f
	lf.Status, lf.Limit, lf.Offset = "", store.MaxLimit, 0
	all, _, err := s.List(ctx(t), lf)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := map[task.Status]int{}
	for _, x := range all {
		want[x.Status]++
	}
	got, err := s.CountByStatus(ctx(t), f)
	if err != nil {
		t.Fatalf("%s: CountByStatus: %v", name, err)
	}
	for _, st := range task.Statuses {
		if got[st] != want[st] {
			t.Fatalf("%s: CountByStatus = %v, want %v", name, got, want)
		}
	}
}

// searchable stores tasks for the executor, name and time filters, created at base+seq
// seconds. Newest first they are: n4, n3, n2-a, n2, n1-a, n1.
func searchable(t *testing.T, s store.Store) {
	t.Helper()
	at := func(id, parent, tree, user, name string, seq int, method, executorID any) *task.Task {
		x := mk(id, parent, seq)
		x.TaskTreeID, x.UserID, x.Name = tree, user, name
		x.HasChildren = parent == "" && (id == "n1" || id == "n2")
		if method != nil {
			x.Schemas = map[string]any{"method": method}
		}
		if executorID != nil {
			x.Params = map[string]any{"executor_id": executorID}
		}
		return x
	}
	create(t, s,
		at("n1", "", "n1", "alice", "Nightly Build", 0, "echo", nil),
		at("n1-a", "n1", "n1", "alice", "compile", 1, "shell", nil))
	n2 := at("n2", "", "n2", "bob", "nightly report", 10, "echo", "report") // executor_id wins
	n2.Status = task.Completed
	create(t, s, n2,
		at("n2-a", "n2", "n2", "bob", "Fetch nightly data", 11, "echo", "")) // empty: schemas.method
	create(t, s, at("n3", "", "n3", "alice", "50%_off sale", 20, "echo", nil))
	create(t, s, at("n4", "", "n4", "alice", "50 percent off", 30, "report", nil))
}

func testListSearch(t *testing.T, s store.Store) {
	searchable(t, s)
	sec := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
	for _, c := range []struct {
		name  string
		f     store.Filter
		want  []string // the page, newest first
		total int      // -1: len(want)
	}{
		{"method from schemas", store.Filter{Method: "echo"}, []string{"n3", "n2-a", "n1"}, -1},
		{"method from executor_id", store.Filter{Method: "report"}, []string{"n4", "n2"}, -1},
		{"method of a child", store.Filter{Method: "shell"}, []string{"n1-a"}, -1},
		{"unknown method", store.Filter{Method: "nope"}, nil, -1},
		{"method and root", store.Filter{Method: "echo", RootOnly: true}, []string{"n3", "n1"}, -1},
		{"method and user", store.Filter{Method: "echo", UserID: "bob"}, []string{"n2-a"}, -1},
		{"method and status", store.Filter{Method: "report", Status: task.Completed}, []string{"n2"}, -1},
		{"method and parent", store.Filter{Method: "shell", ParentID: "n1"}, []string{"n1-a"}, -1},
		{"method paged", store.Filter{Method: "echo", Limit: 2}, []string{"n3", "n2-a"}, 3},
		{"method second page", store.Filter{Method: "echo", Limit: 2, Offset: 2}, []string{"n1"}, 3},

		{"name", store.Filter{Name: "nightly"}, []string{"n2-a", "n2", "n1"}, -1},
		{"name ignores case", store.Filter{Name: "NIGHTLY", RootOnly: true}, []string{"n2", "n1"}, -1},
		{"name and user", store.Filter{Name: "Nightly", UserID: "bob"}, []string{"n2-a", "n2"}, -1},
		{"name and status", store.Filter{Name: "nightly", Status: task.Completed}, []string{"n2"}, -1},
		{"name and tree", store.Filter{Name: "fetch", TreeID: "n2"}, []string{"n2-a"}, -1},
		{"name and method", store.Filter{Name: "nightly", Method: "echo"}, []string{"n2-a", "n1"}, -1},
		{"id exactly", store.Filter{Name: "n2-a"}, []string{"n2-a"}, -1},
		{"id of a root", store.Filter{Name: "n2", RootOnly: true}, []string{"n2"}, -1},
		{"part of an id is no match", store.Filter{Name: "n1-"}, nil, -1},
		{"percent is a character", store.Filter{Name: "50%"}, []string{"n3"}, -1},
		{"underscore is a character", store.Filter{Name: "_"}, []string{"n3"}, -1},
		{"pattern characters inside", store.Filter{Name: "0%_O"}, []string{"n3"}, -1},
		{"backslash is a character", store.Filter{Name: `\`}, nil, -1},
		{"quote is a character", store.Filter{Name: "' OR '1'='1"}, nil, -1},
		{"name paged", store.Filter{Name: "nightly", Limit: 1, Offset: 1}, []string{"n2"}, 3},

		{"created after, inclusive", store.Filter{CreatedAfter: sec(10)}, []string{"n4", "n3", "n2-a", "n2"}, -1},
		{"created before, exclusive", store.Filter{CreatedBefore: sec(10)}, []string{"n1-a", "n1"}, -1},
		{"created between", store.Filter{CreatedAfter: sec(1), CreatedBefore: sec(20)}, []string{"n2-a", "n2", "n1-a"}, -1},
		{"empty range", store.Filter{CreatedAfter: sec(10), CreatedBefore: sec(10)}, nil, -1},
		{"after everything", store.Filter{CreatedAfter: sec(31)}, nil, -1},
		{"created and root", store.Filter{CreatedAfter: sec(10), CreatedBefore: sec(20), RootOnly: true}, []string{"n2"}, -1},
		{"created and user", store.Filter{CreatedAfter: sec(10), UserID: "alice"}, []string{"n4", "n3"}, -1},
		{"created and status", store.Filter{CreatedAfter: sec(1), CreatedBefore: sec(11), Status: task.Pending}, []string{"n1-a"}, -1},
		{"created and tree", store.Filter{CreatedAfter: sec(11), TreeID: "n2"}, []string{"n2-a"}, -1},
		{"created paged", store.Filter{CreatedAfter: sec(1), Limit: 2, Offset: 1}, []string{"n3", "n2-a"}, 5},

		{"all together", store.Filter{Name: "NIGHT", Method: "echo", UserID: "bob", Status: task.Pending,
			CreatedAfter: sec(1), CreatedBefore: sec(12)}, []string{"n2-a"}, -1},
		{"all together, roots", store.Filter{Name: "night", Method: "echo", RootOnly: true, CreatedBefore: sec(30)},
			[]string{"n1"}, -1},
	} {
		want := c.total
		if want < 0 {
			want = len(c.want)
		}
		got, total, err := s.List(ctx(t), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wantIDs(t, c.name, got, c.want...)
		if total != want {
			t.Fatalf("%s: total %d, want %d", c.name, total, want)
		}
		if n, err := s.Count(ctx(t), c.f); err != nil || n != want {
			t.Fatalf("%s: Count = %d, %v, want %d", c.name, n, err, want)
		}
		checkCountByStatus(t, s, c.name, c.f)
	}
}

func testIndexesFollowUpdates(t *testing.T, s store.Store) {
	ts := tree("i-")
	create(t, s, ts...)
	now := base.Add(time.Minute)
	count := func(st task.Status) int {
		n, err := s.Count(ctx(t), store.Filter{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []func(*task.Task) error{
		func(t *task.Task) error { return t.Start(now) },
		func(t *task.Task) error { return t.Fail("boom", nil, now) },
		func(t *task.Task) error { return t.Reset(now) },
		func(t *task.Task) error { return t.Start(now) },
		func(t *task.Task) error { return t.Complete(1, now) },
	}
	want := []map[task.Status]int{
		{task.Pending: 3, task.InProgress: 1},
		{task.Pending: 3, task.Failed: 1},
		{task.Pending: 4},
		{task.Pending: 3, task.InProgress: 1},
		{task.Pending: 3, task.Completed: 1},
	}
	for i, fn := range steps {
		if _, err := s.Update(ctx(t), "i-a", fn); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, st := range task.Statuses {
			if got := count(st); got != want[i][st] {
				t.Fatalf("after step %d: Count(%s) = %d, want %d", i, st, got, want[i][st])
			}
		}
		checkCountByStatus(t, s, fmt.Sprintf("after step %d", i), store.Filter{TreeID: "i-tree"})
	}
	got, _, err := s.List(ctx(t), store.Filter{Status: task.Completed, TreeID: "i-tree"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "completed in tree", got, "i-a")
	if got[0].Result == nil {
		t.Fatal("List returned a stale task")
	}
}

func testChildren(t *testing.T, s store.Store) {
	create(t, s, tree("")...)
	got, err := s.Children(ctx(t), "r")
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "children", got, "b", "c", "a") // priority 1 (seq 2, 3), then 3
	if _, err := s.Update(ctx(t), "c", func(t *task.Task) error { t.Priority = 0; return nil }); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Children(ctx(t), "r")
	wantIDs(t, "children after priority change", got, "c", "b", "a")
	got, _ = s.Children(ctx(t), "a")
	wantIDs(t, "children of a leaf", got)
	got, _ = s.Children(ctx(t), "nope")
	wantIDs(t, "children of a missing task", got)
}

func testTree(t *testing.T, s store.Store) {
	ts := tree("")
	ts[0], ts[3] = ts[3], ts[0] // submission order is seq, not slice order
	create(t, s, ts...)
	create(t, s, tree("other-")...)
	got, err := s.Tree(ctx(t), "tree")
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "tree", got, "r", "a", "b", "c")
	got, err = s.Tree(ctx(t), "none")
	if err != nil || len(got) != 0 {
		t.Fatalf("Tree(none) = %v, %v; want empty", ids(got), err)
	}
}

func testDependents(t *testing.T, s store.Store) {
	create(t, s, tree("")...)
	got, err := s.Dependents(ctx(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "dependents of a", got, "c")
	got, _ = s.Dependents(ctx(t), "c")
	wantIDs(t, "dependents of c", got)
	if _, err := s.Update(ctx(t), "c", func(t *task.Task) error {
		t.Dependencies = []task.Dependency{{ID: "b", Required: true}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Dependents(ctx(t), "a")
	wantIDs(t, "dependents of a after the change", got)
	got, _ = s.Dependents(ctx(t), "b")
	wantIDs(t, "dependents of b after the change", got, "c")
}

// testDependentsOrder: dependents come in submission order (seq, then id), not in the
// order of their ids.
func testDependentsOrder(t *testing.T, s store.Store) {
	ts := tree("")
	late, tie := mk("x", "r", 9), mk("bb", "r", 9)
	for _, d := range []*task.Task{late, tie} {
		d.Dependencies = []task.Dependency{{ID: "a", Required: true}}
	}
	create(t, s, append(ts, late, tie)...)
	got, err := s.Dependents(ctx(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "dependents of a", got, "c", "bb", "x")
}

func testDeleteTree(t *testing.T, s store.Store) {
	create(t, s, tree("")...)
	create(t, s, tree("keep-")...)
	if err := s.Delete(ctx(t), []string{"c", "a", "r", "b"}); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, "r", "a", "b", "c")
	got, _ := s.Tree(ctx(t), "tree")
	wantIDs(t, "deleted tree", got)
	got, _ = s.Children(ctx(t), "r")
	wantIDs(t, "children of deleted root", got)
	got, _ = s.Dependents(ctx(t), "a")
	wantIDs(t, "dependents of deleted task", got)
	got, total, err := s.List(ctx(t), store.Filter{})
	if err != nil || total != 4 {
		t.Fatalf("List after delete: total %d, %v", total, err)
	}
	wantIDs(t, "remaining", got, "keep-c", "keep-b", "keep-a", "keep-r")
	if n, _ := s.Count(ctx(t), store.Filter{Status: task.Pending}); n != 4 {
		t.Fatalf("Count(pending) after delete = %d, want 4", n)
	}
}

// testDeleteLastChild: a Delete that takes a parent's last children clears the
// parent's has_children in its transaction; one that leaves a child keeps it.
func testDeleteLastChild(t *testing.T, s store.Store) {
	ts := tree("")
	ts[3].Dependencies = nil // c depends on nothing: a, b and c can go one by one
	// The parent's other fields stay as they were written, spelling and all.
	inputs := map[string]any{"n": json.Number("1e2"), "s": "a\x00b"}
	ts[0].Inputs = inputs
	create(t, s, ts...)
	hasChildren := func(want bool) {
		t.Helper()
		r, err := s.Get(ctx(t), "r")
		if err != nil {
			t.Fatal(err)
		}
		if r.HasChildren != want {
			t.Fatalf("r.has_children = %v, want %v", r.HasChildren, want)
		}
		if fmt.Sprint(r.Inputs) != fmt.Sprint(inputs) {
			t.Fatalf("r.inputs = %v, want %v", r.Inputs, inputs)
		}
	}
	for _, step := range []struct {
		ids  []string
		want bool
	}{{[]string{"a"}, true}, {[]string{"b", "c"}, false}} {
		if err := s.Delete(ctx(t), step.ids); err != nil {
			t.Fatal(err)
		}
		hasChildren(step.want)
	}
	// The root is otherwise as it was, and still listed as a root.
	got, _, err := s.List(ctx(t), store.Filter{RootOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "roots", got, "r")
}

func testDeleteRefuses(t *testing.T, s store.Store) {
	create(t, s, tree("")...)
	for _, c := range []struct {
		ids      []string
		blocking string
	}{
		{[]string{"r"}, ""},  // its children stay
		{[]string{"a"}, "c"}, // c depends on a
		{[]string{"b", "a"}, "c"},
	} {
		err := s.Delete(ctx(t), c.ids)
		e := wantCode(t, err, apferr.CannotDelete)
		if c.blocking != "" && dataField(e, "blocking_task_id") != c.blocking {
			t.Fatalf("Delete(%v): data %v does not name blocking task %s", c.ids, e.Data, c.blocking)
		}
	}
	for _, id := range []string{"r", "a", "b", "c"} {
		get(t, s, id)
	}
	if err := s.Delete(ctx(t), []string{"c", "a"}); err != nil {
		t.Fatalf("deleting a leaf with its dependency: %v", err)
	}
	wantMissing(t, s, "a", "c")
}

func testDeleteMissing(t *testing.T, s store.Store) {
	create(t, s, mk("dm", "", 0))
	err := s.Delete(ctx(t), []string{"dm", "ghost"})
	e := wantCode(t, err, apferr.TaskNotFound)
	if dataField(e, "task_id") != "ghost" {
		t.Fatalf("error data %v does not name the missing task", e.Data)
	}
	get(t, s, "dm")
}

func testCancelledContext(t *testing.T, s store.Store) {
	create(t, s, mk("cc", "", 0))
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(c, "cc"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v, want context.Canceled", err)
	}
	if err := s.Create(c, []*task.Task{mk("cc2", "", 1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create: %v, want context.Canceled", err)
	}
	if _, err := s.Update(c, "cc", func(t *task.Task) error { t.Name = "x"; return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Update: %v, want context.Canceled", err)
	}
	for name, call := range map[string]func() error{
		"List":       func() error { _, _, err := s.List(c, store.Filter{}); return err },
		"Count":      func() error { _, err := s.Count(c, store.Filter{}); return err },
		"Children":   func() error { _, err := s.Children(c, "cc"); return err },
		"Tree":       func() error { _, err := s.Tree(c, "tree"); return err },
		"Dependents": func() error { _, err := s.Dependents(c, "cc"); return err },
		"UpdateMany": func() error {
			_, err := s.UpdateMany(c, []store.Mutation{{ID: "cc", Fn: func(t *task.Task) error { t.Name = "x"; return nil }}})
			return err
		},
		"Delete": func() error { return s.Delete(c, []string{"cc"}) },
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v, want context.Canceled", name, err)
		}
	}
	wantMissing(t, s, "cc2")
	if get(t, s, "cc").Name != "task cc" {
		t.Fatal("Update with a cancelled context was written")
	}
}

func testClose(t *testing.T, s store.Store) {
	create(t, s, mk("cl", "", 0))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Writes racing with Close either commit or fail; none may hang or panic.
			_, _ = s.Update(context.Background(), "cl", func(t *task.Task) error { t.RunCount = i; return nil })
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	// Every later call fails with ErrClosed, also one given nothing to do.
	for name, call := range map[string]func() error{
		"Get":                func() error { _, err := s.Get(ctx(t), "cl"); return err },
		"Create":             func() error { return s.Create(ctx(t), []*task.Task{mk("late", "", 1)}) },
		"Create of none":     func() error { return s.Create(ctx(t), nil) },
		"Update":             func() error { _, err := s.Update(ctx(t), "cl", func(*task.Task) error { return nil }); return err },
		"UpdateMany of none": func() error { _, err := s.UpdateMany(ctx(t), nil); return err },
		"Delete of none":     func() error { return s.Delete(ctx(t), nil) },
		"List":               func() error { _, _, err := s.List(ctx(t), store.Filter{}); return err },
		"Count":              func() error { _, err := s.Count(ctx(t), store.Filter{}); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Open returns the store that open returns, failing t if open fails, and closes the
// store when t ends: the setup of a backend's own tests.
func Open[S store.Store](t testing.TB, open func() (S, error)) S {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// storeCase is one test of a conformance suite over stores of type S.
type storeCase[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runSuite runs each case as a parallel subtest on a new store from newStore, closed
// (and its Close checked) when the subtest ends.
func runSuite[S interface{ Close() error }](t *testing.T, newStore func(t *testing.T) S, cases []storeCase[S]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.fn(t, s)
		})
	}
}
