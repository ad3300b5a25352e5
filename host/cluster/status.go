package cluster

import "time"

// Status is the operator's view of a cluster at one moment, as `apflow cluster status`
// and GET /metrics show it. It is read in one pass over the database, not in one
// transaction: the counts of a busy cluster may disagree by the tasks that moved
// meanwhile.
type Status struct {
	// SchemaVersion is the database's schema version. A node whose own
	// (Node.SchemaVersion) differs runs another apflow release: see SchemaMismatch.
	SchemaVersion int
	// ReadAt is the database's clock when the status was read: heartbeat ages are
	// ReadAt minus Node.HeartbeatAt, whatever the reader's own clock says.
	ReadAt time.Time
	// Nodes lists every node row, alive or not (a node that died without leaving stays
	// listed, not alive, until it joins again under the same id).
	Nodes []Node
	// Runs lists the tree leases of live nodes: the runs in progress.
	Runs []RunLease
	// Queued counts the tasks ready to run that no node has claimed yet.
	Queued int64
	// Claimed counts the tasks claimed by a node (executing, or about to be taken back
	// if their node died).
	Claimed int64
}

// AliveNodes counts the nodes whose heartbeat is within the lease interval.
func (s Status) AliveNodes() int {
	n := 0
	for _, x := range s.Nodes {
		if x.Alive {
			n++
		}
	}
	return n
}

// SchemaMismatch reports whether node x runs a schema version other than the
// database's: during a rolling upgrade, the nodes not yet upgraded (an older version),
// or a node that should not be running at all.
func (s Status) SchemaMismatch(x Node) bool { return x.SchemaVersion != s.SchemaVersion }

// Node returns the node with the given id, if it is listed.
func (s Status) Node(id string) (Node, bool) {
	for _, x := range s.Nodes {
		if x.ID == id {
			return x, true
		}
	}
	return Node{}, false
}
