package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestUpdateRacingRuns starts runs of a tree while another goroutine keeps updating one of
// its tasks: every Update either is refused (AlreadyExecuting) or changes the task while
// no run of its tree exists, so no successful update is lost to a run that loaded the
// task before it.
func TestUpdateRacingRuns(t *testing.T) {
	v := setup(t)
	root := v.create(spec{id: "ur-root", deps: req("ur-x")}, spec{id: "ur-x", inputs: map[string]any{"v": -1}})
	ctx := context.Background()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := v.e.Start(ctx, root, RunOptions{Full: true})
			if err != nil {
				t.Errorf("Start: %v", err)
				return
			}
			<-r.Done()
			if res := r.Result(); res.Err != nil {
				t.Errorf("run: %v", res.Err)
			}
		}
	}()

	last, refused := -1, 0
	for i := range 300 {
		_, err := v.e.Update(ctx, "ur-x", func(x *task.Task) error {
			// The lock that starts runs is held: no run of the tree may exist now.
			if v.e.runs["ur-root"] != nil {
				t.Errorf("update %d applied while the tree runs", i)
			}
			x.Inputs = map[string]any{"v": i}
			return nil
		})
		switch {
		case err == nil:
			last = i
		case apferr.CodeOf(err) == apferr.AlreadyExecuting:
			refused++
		default:
			t.Fatalf("update %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if got := fmt.Sprint(v.get("ur-x").Inputs["v"]); got != fmt.Sprint(last) {
		t.Fatalf("inputs.v = %s, want %d (the last successful update); %d updates refused", got, last, refused)
	}
}

// TestDeleteRacingStart deletes trees while runs of them start: a delete is refused
// (CannotDelete) or happens while no run of the tree exists, so no run loses a task it
// loaded.
func TestDeleteRacingStart(t *testing.T) {
	v := setup(t)
	ctx := context.Background()
	for i := range 60 {
		root := v.create(spec{id: fmt.Sprintf("dr%d-root", i), deps: req(fmt.Sprintf("dr%d-a", i))},
			spec{id: fmt.Sprintf("dr%d-a", i)}, spec{id: fmt.Sprintf("dr%d-b", i), deps: req(fmt.Sprintf("dr%d-a", i))})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			r, err := v.e.Start(ctx, root, RunOptions{})
			if err != nil {
				return // deleted before the start read it
			}
			<-r.Done()
			// A run that loaded tasks must not fail on a write: none of them was deleted.
			if res := r.Result(); len(res.Counts) > 0 && res.Err != nil {
				t.Errorf("run of %s: %v", root, res.Err)
			}
		}()
		go func() {
			defer wg.Done()
			_, err := v.e.Delete(ctx, root, func(sub []*task.Task) error {
				if v.e.runs[root] != nil {
					t.Errorf("delete of %s checked while the tree runs", root)
				}
				if len(sub) != 3 || sub[0].ID != root {
					t.Errorf("delete of %s: subtree %d tasks", root, len(sub))
				}
				return nil
			})
			if err != nil && apferr.CodeOf(err) != apferr.CannotDelete {
				t.Errorf("delete of %s: %v", root, err)
			}
		}()
		wg.Wait()
	}
}

// TestEditRefusesRunningTree: while a run holds the tree, Update answers AlreadyExecuting
// and Delete CannotDelete, and the stored tasks are unchanged.
func TestEditRefusesRunningTree(t *testing.T) {
	v := setup(t)
	root := v.create(spec{id: "er-root", deps: req("er-gate")}, spec{id: "er-gate", params: map[string]any{"gate": true}})
	r, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gate task running", func() bool { return v.get("er-gate").Status == task.InProgress })
	_, err = v.e.Update(context.Background(), "er-root", func(x *task.Task) error { x.Name = "changed"; return nil })
	if apferr.CodeOf(err) != apferr.AlreadyExecuting {
		t.Errorf("Update of a running tree: %v, want AlreadyExecuting", err)
	}
	_, err = v.e.Delete(context.Background(), "er-root", nil)
	if apferr.CodeOf(err) != apferr.CannotDelete {
		t.Errorf("Delete of a running tree: %v, want CannotDelete", err)
	}
	close(v.cat.gate)
	<-r.Done()
	if got := v.get("er-root"); got.Name != "er-root" || got.Status != task.Completed {
		t.Fatalf("root after the run: name %q status %s", got.Name, got.Status)
	}
	got, err := v.e.Delete(context.Background(), "er-root", nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("Delete after the run: %d tasks, %v", len(got), err)
	}
}

// TestUpdateRefusesInProgressAndFrozenTasks: an idle tree's task cannot be made
// in_progress by an update (it would hold no slot and no run), and links and archived
// tasks cannot be changed at all (docs/semantics.md rule 16); the refusals name the task
// and the field, and nothing is written.
func TestUpdateRefusesInProgressAndFrozenTasks(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "uf-")
	links, err := v.e.Clone(context.Background(), "uf-up", CloneOptions{Mode: CloneLink})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.Clone(context.Background(), "uf-mid", CloneOptions{Mode: CloneArchive, Shallow: true}); err != nil {
		t.Fatal(err)
	}
	v.create(spec{id: "uf-p"}, spec{id: "uf-p1"})
	ctx := context.Background()
	for _, tc := range []struct {
		name, id, field string
		change          func(*task.Task) error
	}{
		{"start", "uf-p1", "status", func(x *task.Task) error { return x.Start(time.Now()) }},
		{"rename a link", links[0].ID, "origin_type", func(x *task.Task) error { x.Name = "x"; return nil }},
		{"rename an archive", "uf-mid", "origin_type", func(x *task.Task) error { x.Name = "x"; return nil }},
		{"reset an archive", "uf-mid", "origin_type", func(x *task.Task) error { return x.Reset(time.Now()) }},
	} {
		before := v.get(tc.id)
		_, err := v.e.Update(ctx, tc.id, tc.change)
		var ae *apferr.Error
		var data map[string]any
		if errors.As(err, &ae) {
			data, _ = ae.Data.(map[string]any)
		}
		if ae == nil || ae.Code != apferr.InvalidParams || data["task_id"] != tc.id || data["field"] != tc.field {
			t.Errorf("%s: Update error = %v, want InvalidParams naming task %s and field %s", tc.name, err, tc.id, tc.field)
			continue
		}
		if after := v.get(tc.id); after.Status != before.Status || after.Name != before.Name {
			t.Errorf("%s: the refused update was written: %+v", tc.name, after)
		}
	}
}
