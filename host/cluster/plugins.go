package cluster

import "time"

// SharedPlugin is one plugin id as the cluster's database holds it: its current version
// (the module's sha256, hex), or, when Removed, a tombstone recording that it was
// removed, SHA256 being the version removed. Change is the number the id's latest change
// took: of two changes of one id, the later has the larger number.
type SharedPlugin struct {
	ID        string
	SHA256    string
	Removed   bool
	Change    int64
	ChangedBy string // the node that made the change
	ChangedAt time.Time
}
