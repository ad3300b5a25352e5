package api

import (
	"context"
	"fmt"
	"io"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// Cluster is what the server reads of the cluster it is a node of (Config.Cluster);
// host/store/pgstore's Node implements it.
type Cluster interface {
	// NodeID names this server's node.
	NodeID() string
	// Status reads the cluster's nodes, runs and queue; it may take a database round
	// trip per call.
	Status(ctx context.Context) (cluster.Status, error)
}

// Roles reported by /healthz.
const (
	roleSingle = "single" // a server alone on its store
	roleNode   = "node"   // a node of a cluster
)

// role is this server's role: roleNode with a Cluster, else roleSingle.
func (s *Server) role() string {
	if s.cfg.Cluster != nil {
		return roleNode
	}
	return roleSingle
}

// writeClusterMetrics writes the cluster's gauges, read now, and this node's.
func writeClusterMetrics(ctx context.Context, w io.Writer, c Cluster) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	self := label(c.NodeID())
	gauge := func(name, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	gauge("apflow_cluster_nodes_alive", "Nodes of the cluster whose heartbeat is within the lease interval.")
	fmt.Fprintf(w, "apflow_cluster_nodes_alive %d\n", st.AliveNodes())
	gauge("apflow_cluster_runs", "Runs in progress in the cluster (trees leased by a live node).")
	fmt.Fprintf(w, "apflow_cluster_runs %d\n", len(st.Runs))
	gauge("apflow_cluster_tasks_queued", "Tasks ready to run that no node has claimed yet.")
	fmt.Fprintf(w, "apflow_cluster_tasks_queued %d\n", st.Queued)
	gauge("apflow_cluster_tasks_claimed", "Tasks claimed by a node of the cluster.")
	fmt.Fprintf(w, "apflow_cluster_tasks_claimed %d\n", st.Claimed)
	gauge("apflow_cluster_node_alive", "1 for each node whose heartbeat is within the lease interval, 0 for a listed node that missed it.")
	for _, n := range st.Nodes {
		alive := 0
		if n.Alive {
			alive = 1
		}
		fmt.Fprintf(w, "apflow_cluster_node_alive{node=%q} %d\n", label(n.ID), alive)
	}
	gauge("apflow_cluster_node_claims", "Tasks claimed (executing) by each node.")
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "apflow_cluster_node_claims{node=%q} %d\n", label(n.ID), n.Claims)
	}
	gauge("apflow_cluster_node_trees", "Runs coordinated by each node (tree leases held).")
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "apflow_cluster_node_trees{node=%q} %d\n", label(n.ID), n.Trees)
	}
	gauge("apflow_node_tasks_executing", "Tasks this node executes now (its claims).")
	executing := 0
	if n, ok := st.Node(c.NodeID()); ok {
		executing = n.Claims
	}
	fmt.Fprintf(w, "apflow_node_tasks_executing{node=%q} %d\n", self, executing)
	return nil
}
