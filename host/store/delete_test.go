package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// graph is a DeleteGraph over fixed relations; it records what it was asked.
type graph struct {
	stored           map[string]bool
	child, dependent map[string]string // the task outside the Delete, whatever doomed is
	fail             error
	asked            []string
}

func (g *graph) Exists(id string) (bool, error) {
	g.asked = append(g.asked, "exists "+id)
	return g.stored[id], g.fail
}

func (g *graph) ChildOutside(id string, doomed map[string]bool) (string, error) {
	g.asked = append(g.asked, "child "+id)
	if c := g.child[id]; !doomed[c] {
		return c, nil
	}
	return "", nil
}

func (g *graph) DependentOutside(id string, doomed map[string]bool) (string, error) {
	g.asked = append(g.asked, "dependent "+id)
	if d := g.dependent[id]; !doomed[d] {
		return d, nil
	}
	return "", nil
}

func TestCheckDelete(t *testing.T) {
	t.Parallel()
	stored := map[string]bool{"a": true, "b": true, "c": true, "k": true}
	errRead := errors.New("read failed")
	for _, c := range []struct {
		name             string
		ids              []string
		child, dependent map[string]string
		fail             error
		want             []string
		wantErr          string // the error's message; "" for none
		asked            []string
	}{
		{name: "Distinct", ids: []string{"b", "a", "b"}, want: []string{"b", "a"},
			asked: []string{"exists b", "child b", "dependent b", "exists a", "child a", "dependent a"}},
		{name: "Missing", ids: []string{"a", "x", "y"}, wantErr: NotFound("x").Error(),
			asked: []string{"exists a", "child a", "dependent a", "exists x"}},
		{name: "ChildFirst", ids: []string{"a"}, child: map[string]string{"a": "k"}, dependent: map[string]string{"a": "c"},
			wantErr: DeleteBlocked("a", "k", "child").Error(), asked: []string{"exists a", "child a"}},
		{name: "Dependent", ids: []string{"a", "b"}, dependent: map[string]string{"b": "k"},
			wantErr: DeleteBlocked("b", "k", "dependent").Error(),
			asked:   []string{"exists a", "child a", "dependent a", "exists b", "child b", "dependent b"}},
		{name: "RelativesDeletedToo", ids: []string{"a", "k"}, child: map[string]string{"a": "k"},
			want:  []string{"a", "k"},
			asked: []string{"exists a", "child a", "dependent a", "exists k", "child k", "dependent k"}},
		{name: "GraphError", ids: []string{"a"}, fail: errRead, wantErr: errRead.Error(), asked: []string{"exists a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := &graph{stored: stored, child: c.child, dependent: c.dependent, fail: c.fail}
			got, err := CheckDelete(c.ids, g)
			if gotErr := fmt.Sprint(err); c.wantErr == "" && err != nil || c.wantErr != "" && gotErr != c.wantErr {
				t.Fatalf("CheckDelete: %v, want %q", err, c.wantErr)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("CheckDelete = %q, want %q", got, c.want)
			}
			if !slices.Equal(g.asked, c.asked) {
				t.Errorf("asked %q, want %q", g.asked, c.asked)
			}
			if c.wantErr != "" && c.fail == nil && apferr.As(err) == nil {
				t.Errorf("%v is not an apferr.Error", err)
			}
		})
	}
}
