package pgstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// noticeChannels are the LISTEN channels and the notice kinds they carry.
var noticeChannels = map[string]cluster.NoticeKind{
	"apflow_settled": cluster.NoticeSettled,
	"apflow_queued":  cluster.NoticeQueued,
	"apflow_cancel":  cluster.NoticeCancel,
	"apflow_events":  cluster.NoticeEvents,
	"apflow_follows": cluster.NoticeFollows,
}

// listen holds one connection that LISTENs on the notice channels and forwards what
// arrives to n.notices (n.plugins for pluginChannel), reconnecting after a failure (the database restarting, say)
// until ctx ends. A notice that does not fit in the channel's buffer is dropped: every
// consumer also polls.
func (n *Node) listen(ctx context.Context, listening chan<- error) {
	defer n.wg.Done()
	defer close(n.notices)
	defer close(n.plugins)
	for ctx.Err() == nil {
		err := n.listenOnce(ctx, listening)
		listening = nil
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

// listenOnce listens on one connection until it fails; listening, if not nil, gets the
// outcome of subscribing.
func (n *Node) listenOnce(ctx context.Context, listening chan<- error) error {
	cfg := n.s.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil
	conn, err := n.subscribe(ctx, cfg)
	if listening != nil {
		listening <- err
	}
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// Whatever happened while no connection listened: tell every consumer to look.
	n.offer(cluster.Notice{Kind: cluster.NoticeQueued})
	n.offerPlugins()
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if nt.Channel == pluginChannel {
			n.offerPlugins()
			continue
		}
		n.offer(parseNotice(nt.Channel, nt.Payload))
	}
}

// parseNotice reads a notification: the payload is an id, or for apflow_cancel a claim's
// token, a space and its task id. A cancel payload that does not parse (token 0) stops
// no execution; the heartbeat finds the dropped claim anyway.
func parseNotice(channel, payload string) cluster.Notice {
	x := cluster.Notice{Kind: noticeChannels[channel], ID: payload}
	if x.Kind != cluster.NoticeCancel {
		return x
	}
	tok, id, ok := strings.Cut(payload, " ")
	x.ID = id
	if v, err := strconv.ParseInt(tok, 10, 64); ok && err == nil {
		x.Token = v
	}
	return x
}

func (n *Node) offer(x cluster.Notice) {
	select {
	case n.notices <- x:
	default:
	}
}

// offerPlugins leaves a plugin notice pending unless one already is.
func (n *Node) offerPlugins() {
	select {
	case n.plugins <- struct{}{}:
	default:
	}
}

// subscribe connects and LISTENs on every notice channel.
func (n *Node) subscribe(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	channels := []string{pluginChannel}
	for ch := range noticeChannels {
		channels = append(channels, ch)
	}
	for _, ch := range channels {
		if _, err := c.Exec(ctx, "LISTEN "+ch); err != nil {
			_ = c.Close(context.Background())
			return nil, err
		}
	}
	return c, nil
}
