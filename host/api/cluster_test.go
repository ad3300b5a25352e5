package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// fakeCluster is a Cluster whose status is fixed.
type fakeCluster struct {
	id  string
	st  cluster.Status
	err error
}

func (f fakeCluster) NodeID() string { return f.id }
func (f fakeCluster) Status(context.Context) (cluster.Status, error) {
	return f.st, f.err
}

// get returns the body of GET path.
func (e *env) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := e.http.Client().Get(e.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %v\n%s", path, resp.StatusCode, err, b)
	}
	return string(b)
}

func TestHealthzNamesRoleAndNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cluster  Cluster
		role, id string
	}{
		{"single server", nil, "single", ""},
		{"cluster node", fakeCluster{id: "n1"}, "node", "n1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, setupOpts{mutate: func(c *Config) { c.Cluster = tc.cluster }})
			var h map[string]any
			if err := json.Unmarshal([]byte(e.get(t, "/healthz")), &h); err != nil {
				t.Fatal(err)
			}
			id, hasID := h["node_id"]
			if h["role"] != tc.role || (tc.id == "" && hasID) || (tc.id != "" && id != tc.id) {
				t.Errorf("healthz %v, want role %q and node_id %q", h, tc.role, tc.id)
			}
		})
	}
}

func TestMetricsShowClusterGauges(t *testing.T) {
	t.Parallel()
	st := cluster.Status{SchemaVersion: 2, Queued: 7, Claimed: 3,
		Nodes: []cluster.Node{{ID: "n1", Alive: true, Claims: 2, Trees: 1}, {ID: "n2", Alive: true, Claims: 1}, {ID: "n3"}},
		Runs:  []cluster.RunLease{{TreeID: "t", RootID: "t", NodeID: "n1"}}}
	e := setup(t, setupOpts{mutate: func(c *Config) { c.Cluster = fakeCluster{id: "n1", st: st} }})
	m := e.get(t, "/metrics")
	for _, want := range []string{"apflow_cluster_nodes_alive 2\n", "apflow_cluster_runs 1\n",
		"apflow_cluster_tasks_queued 7\n", "apflow_cluster_tasks_claimed 3\n",
		`apflow_cluster_node_alive{node="n3"} 0` + "\n", `apflow_cluster_node_claims{node="n2"} 1` + "\n",
		`apflow_cluster_node_trees{node="n1"} 1` + "\n", `apflow_node_tasks_executing{node="n1"} 2` + "\n",
		"# TYPE apflow_cluster_tasks_queued gauge\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}

	// A single server has none; a cluster whose status cannot be read still serves the rest.
	for _, c := range []Cluster{nil, fakeCluster{id: "n1", err: errors.New("database down")}} {
		e := setup(t, setupOpts{mutate: func(cfg *Config) { cfg.Cluster = c }})
		m := e.get(t, "/metrics")
		if strings.Contains(m, "apflow_cluster_") || !strings.Contains(m, "apflow_runs_in_progress") {
			t.Errorf("cluster %v: metrics\n%s", c, m)
		}
	}
}
