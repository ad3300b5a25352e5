// Package cluster defines what several engines (nodes) sharing one database need from
// it: the Driver interface, implemented by host/store/pgstore, and the types it speaks.
// The engine (host/engine) consumes it; with no Driver an engine runs alone on its store.
//
// The design (docs/cluster.md has the operator's view):
//
//   - Tree leases. The run of a tree is coordinated by one node at a time: the node
//     holding the tree's lease (AcquireTree). Every write of the coordinator is fenced by
//     the lease's token (CommitRound): a node that lost its lease, because it was paused
//     or partitioned past the lease's expiry and another node took the tree over, can no
//     longer write anything for that tree. "already_running" is the lease being held.
//   - Claims. A ready task runs on the coordinator's node when it has a free slot and
//     no task of the tree queued or claimed and not yet settled orders before it:
//     started and claimed in the coordinator's round (Round.Claim), its outcome written
//     in a later round fenced by that claim too (Round.Finished). The others are queued
//     (Round.Enqueue) with their dependency results injected; any node claims queued
//     tasks (Claim: priority, then submission order, cluster-wide, FOR UPDATE SKIP
//     LOCKED), which starts them, executes them in its own sandbox, and writes the
//     outcome with Finish, fenced by the claim's token. An outcome is written at most
//     once: a claim that expired and was taken again has a new token, and the old
//     holder's write fails with ErrFenced.
//   - The settled feed. An outcome written by anyone but the coordinator (Finish: a
//     terminal transition, or a failed attempt that waits for its retry) is recorded in
//     its tree's feed in the same transaction, with a notice
//     (Notices); the coordinator reads the feed (ReadSettled), settles dependents and
//     acknowledges the entries in its next round (Round.Ack), so nothing depends on a
//     notice arriving or a response surviving a database crash. A cancel made through
//     another node is a request in the same feed (RequestCancel): the coordinator
//     cancels as it does for its own clients, in a round that also acknowledges the
//     request, so a cancel never races with the coordinator's own writes.
//   - Liveness. Each node renews its node row, tree leases and claims every heartbeat
//     (Heartbeat) and learns which ones it lost. Claims whose lease expired go back to
//     the queue (SweepClaims: the task back to pending, its attempt counted); trees whose
//     lease expired while their root carries a run marker are taken over by another
//     node (Orphans, then AcquireTree), which rebuilds the run from the database as
//     crash recovery does. A tree stored to run at once is marked at its create, so its
//     node takes its lease before the create: the tree waits for its creator's start,
//     or for that lease to expire.
//   - Events. Each node records the runs its clients follow (Follow: SSE streams,
//     webhooks); a node publishing an event of a followed run sends it to the inbox of
//     every node following it (SendEvents, batched), which republishes it to its own
//     subscribers (ReceiveEvents, which deletes what the previous call returned once
//     the caller acknowledges it). Nothing is written for runs nobody follows from
//     another node.
//
// SharedPlugin is a plugin as the database shares it between nodes (a current sha256 or
// a tombstone); host/pluginshare keeps each node's plugins in step with them.
package cluster
