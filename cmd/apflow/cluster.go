package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
)

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster of apflow serve nodes sharing a PostgreSQL store",
	}
	cmd.AddCommand(newClusterStatusCmd(g))
	return cmd
}

func newClusterStatusCmd(g *globals) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes, runs and queued tasks (--store postgres://…)",
		Long: `Status reads the cluster's PostgreSQL database (--store or $APFLOW_STORE) and shows its
nodes (alive when they heartbeated within their lease interval; --lease stands in for
nodes of releases that did not record theirs), the
runs in progress with the node coordinating each, and the tasks queued for claiming. It
only reads: it joins no cluster and migrates no schema. A node whose schema version
differs from the database's is marked with "!".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dsn := g.storeDSN()
			if dsn == "" {
				return &exitError{code: exitInvalid, msg: "cluster status needs the cluster's database: give --store postgres://user:password@host:5432/db (or set APFLOW_STORE)"}
			}
			if err := checkStoreURL(dsn); err != nil {
				return err
			}
			st, err := pgstore.ReadStatus(cmd.Context(), dsn, g.lease)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeClusterJSON(g.stdout, st)
			}
			writeClusterText(g.stdout, st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the status as JSON")
	return cmd
}

// clusterView is the JSON form of cluster status.
type clusterView struct {
	SchemaVersion       int            `json:"schema_version"`
	BinarySchemaVersion int            `json:"binary_schema_version"`
	ReadAt              time.Time      `json:"read_at"`
	NodesAlive          int            `json:"nodes_alive"`
	Nodes               []nodeView     `json:"nodes"`
	Runs                []runLeaseView `json:"runs"`
	Queued              int64          `json:"queued_tasks"`
	Claimed             int64          `json:"claimed_tasks"`
}

type nodeView struct {
	ID             string    `json:"node_id"`
	Alive          bool      `json:"alive"`
	HeartbeatAt    time.Time `json:"heartbeat_at"`
	HeartbeatAge   float64   `json:"heartbeat_age_seconds"`
	LeaseSeconds   float64   `json:"lease_seconds"`
	StartedAt      time.Time `json:"started_at"`
	Version        string    `json:"version"`
	SchemaVersion  int       `json:"schema_version"`
	SchemaMismatch bool      `json:"schema_mismatch"`
	Concurrency    int       `json:"concurrency"`
	Executing      int       `json:"executing"`
	Trees          int       `json:"trees_led"`
	Claims         int       `json:"claims_held"`
}

type runLeaseView struct {
	RootID    string    `json:"root_task_id"`
	TreeID    string    `json:"task_tree_id"`
	NodeID    string    `json:"node_id"`
	StartedAt time.Time `json:"started_at"`
	Tasks     int64     `json:"tasks"`
	Finished  int64     `json:"finished"`
	Executing int64     `json:"executing"`
}

func viewCluster(st cluster.Status) clusterView {
	v := clusterView{SchemaVersion: st.SchemaVersion, BinarySchemaVersion: pgstore.SchemaVersion(), ReadAt: st.ReadAt.UTC(),
		NodesAlive: st.AliveNodes(), Nodes: []nodeView{}, Runs: []runLeaseView{}, Queued: st.Queued, Claimed: st.Claimed}
	for _, n := range st.Nodes {
		v.Nodes = append(v.Nodes, nodeView{ID: n.ID, Alive: n.Alive, HeartbeatAt: n.HeartbeatAt.UTC(),
			HeartbeatAge: heartbeatAge(st, n).Seconds(), LeaseSeconds: n.Lease.Seconds(), StartedAt: n.StartedAt.UTC(), Version: n.Version,
			SchemaVersion: n.SchemaVersion, SchemaMismatch: st.SchemaMismatch(n), Concurrency: n.Concurrency,
			Executing: n.Executing, Trees: n.Trees, Claims: n.Claims})
	}
	for _, r := range st.Runs {
		v.Runs = append(v.Runs, runLeaseView{RootID: r.RootID, TreeID: r.TreeID, NodeID: r.NodeID,
			StartedAt: r.StartedAt.UTC(), Tasks: r.Tasks, Finished: r.Finished, Executing: r.Executing})
	}
	return v
}

// heartbeatAge is how long ago n heartbeated, on the database's clock.
func heartbeatAge(st cluster.Status, n cluster.Node) time.Duration {
	return max(0, st.ReadAt.Sub(n.HeartbeatAt))
}

func writeClusterJSON(w io.Writer, st cluster.Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(viewCluster(st))
}

func writeClusterText(w io.Writer, st cluster.Status) {
	fmt.Fprintf(w, "schema version %d (this apflow: %d); %d of %d nodes alive\n\n",
		st.SchemaVersion, pgstore.SchemaVersion(), st.AliveNodes(), len(st.Nodes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tALIVE\tHEARTBEAT\tLEASE\tVERSION\tSCHEMA\tCONCURRENCY\tEXECUTING\tTREES\tCLAIMS")
	var mismatched []cluster.Node
	for _, n := range st.Nodes {
		alive, schema := "yes", fmt.Sprint(n.SchemaVersion)
		if !n.Alive {
			alive = "no"
		}
		if st.SchemaMismatch(n) {
			schema += " !"
			mismatched = append(mismatched, n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", n.ID, alive,
			heartbeatAge(st, n).Round(100*time.Millisecond), n.Lease, n.Version, schema, n.Concurrency, n.Executing, n.Trees, n.Claims)
	}
	_ = tw.Flush()
	for _, n := range mismatched {
		fmt.Fprintf(w, "! node %s runs schema version %d, the database is at %d: it runs another apflow release\n",
			n.ID, n.SchemaVersion, st.SchemaVersion)
	}
	fmt.Fprintf(w, "\n%d runs in progress\n", len(st.Runs))
	if len(st.Runs) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROOT\tTREE\tNODE\tSTARTED\tTASKS\tFINISHED\tEXECUTING")
		for _, r := range st.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.RootID, r.TreeID, r.NodeID,
				r.StartedAt.UTC().Format(time.RFC3339), r.Tasks, r.Finished, r.Executing)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "\n%d tasks queued (claimed by no node), %d claimed\n", st.Queued, st.Claimed)
}
