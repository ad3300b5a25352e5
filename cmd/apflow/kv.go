package main

import (
	"context"
	"sync"
	"time"
)

// kvPurgeInterval is how often apflow serve deletes expired kv entries (docs/kv.md).
// Expired entries are invisible at once; purging only frees their room.
const kvPurgeInterval = 10 * time.Minute

// purgeKV deletes the kv entries expired now; a failure is logged, not fatal (the
// entries stay invisible and a set that needs their room deletes them itself).
func (h *host) purgeKV(ctx context.Context) {
	n, err := h.kv.PurgeKV(ctx, time.Now())
	if err != nil {
		h.log.Warn("purging expired kv entries failed", "error", err)
		return
	}
	if n > 0 {
		h.log.Debug("purged expired kv entries", "count", n)
	}
}

// purgeKVEvery purges expired kv entries every interval until the returned stop is
// called; stop waits for a purge in progress.
func (h *host) purgeKVEvery(every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.purgeKV(ctx)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
