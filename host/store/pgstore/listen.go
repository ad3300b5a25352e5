package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// noticeChannels are the LISTEN channels and the notice kinds they carry.
var noticeChannels = map[string]cluster.NoticeKind{
	"apflow_settled": cluster.NoticeSettled,
	"apflow_queued":  cluster.NoticeQueued,
	"apflow_cancel":  cluster.NoticeCancel,
}

// listen holds one connection that LISTENs on the notice channels and forwards what
// arrives to n.notices, reconnecting after a failure (the database restarting, say)
// until ctx ends. A notice that does not fit in the channel's buffer is dropped: every
// consumer also polls.
func (n *Node) listen(ctx context.Context) {
	defer n.wg.Done()
	defer close(n.notices)
	for ctx.Err() == nil {
		err := n.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		n.s.opts.Logger.Warn("cluster notices: connection lost, reconnecting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (n *Node) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for ch := range noticeChannels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	// Whatever happened while no connection listened: tell every consumer to look.
	n.offer(cluster.Notice{Kind: cluster.NoticeQueued})
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.offer(cluster.Notice{Kind: noticeChannels[nt.Channel], ID: nt.Payload})
	}
}

func (n *Node) offer(x cluster.Notice) {
	select {
	case n.notices <- x:
	default:
	}
}
