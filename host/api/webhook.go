package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
)

// webhookConfig is tasks.execute's webhook_config.
type webhookConfig struct {
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Method     string            `json:"method"`
	Timeout    float64           `json:"timeout"`     // seconds, default 30
	MaxRetries *int              `json:"max_retries"` // default 3
}

// check validates the config and fills its defaults. Unless allowPrivate, a URL whose
// host is a loopback, private, link-local, multicast or unspecified IP literal, or
// localhost, is refused (webhook_guard.go).
func (w *webhookConfig) check(allowPrivate bool) error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return apferr.InvalidParam("webhook_config.url", "must be an absolute http or https URL", "http(s)://host/path", w.URL)
	}
	if !allowPrivate {
		if err := checkWebhookHost(u.Hostname()); err != nil {
			return apferr.InvalidParam("webhook_config.url", fmt.Sprintf("webhook refused: %v; the server does not call internal addresses unless started with --webhook-allow-private", err),
				"a public http(s) URL", w.URL)
		}
	}
	if w.Method == "" {
		w.Method = http.MethodPost
	}
	if w.Method != http.MethodPost && w.Method != http.MethodPut {
		return apferr.InvalidParam("webhook_config.method", "must be POST or PUT", "POST or PUT", w.Method)
	}
	if w.Timeout <= 0 {
		w.Timeout = 30
	}
	if w.MaxRetries == nil {
		n := 3
		w.MaxRetries = &n
	}
	return nil
}

// startWebhook delivers the run's events to the webhook in the background: one request
// per event, in order, then the final one once the run has ended (see followRun; done is
// closed when the run ends). 5xx answers and network errors are retried up to
// max_retries times with exponential backoff; a 4xx answer stops the deliveries.
// Delivery failures are logged and never affect the run.
func (s *Server) startWebhook(cfg *webhookConfig, tg target, done <-chan struct{}, events <-chan engine.Event, unsub func()) {
	queue := make(chan map[string]any, 4096)
	s.background.Add(2)
	// Reader: never blocks the engine's channel for long.
	go func() {
		defer s.background.Done()
		defer close(queue)
		defer unsub()
		end := s.followRun(follower{rootID: tg.rootID, events: events, done: done, emit: func(f map[string]any) bool {
			select {
			case queue <- f:
			default:
				s.log.Warn("webhook queue full, dropping event", "url", cfg.URL, "task_id", f["task_id"], "type", f["type"])
			}
			return true
		}})
		if end == runEnded {
			queue <- s.finalFrame(context.Background(), tg, "jsonrpc")
		}
	}()
	go func() {
		defer s.background.Done()
		stopped := false
		for f := range queue {
			if stopped {
				continue
			}
			if err := s.deliver(cfg, f); err != nil {
				s.log.Warn("webhook delivery failed", "url", cfg.URL, "root_task_id", tg.rootID, "error", err)
				if apferr.CodeOf(err) == apferr.InvalidRequest || errors.Is(err, errInternalAddress) {
					stopped = true // a 4xx or a refused address: stop sending
				}
			}
		}
	}()
}

// deliver sends one payload with retries.
func (s *Server) deliver(cfg *webhookConfig, payload map[string]any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	backoff := s.cfg.WebhookBackoff
	var last error
	for attempt := 0; attempt <= *cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-s.closing:
				return fmt.Errorf("webhook %s: server shutting down after %d attempts: %w", cfg.URL, attempt, last)
			}
			backoff *= 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Timeout*float64(time.Second)))
		req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, bytes.NewReader(body))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "apflow-wasm webhook")
		for k, v := range cfg.Headers {
			req.Header.Set(k, v)
		}
		resp, err := s.cfg.WebhookClient.Do(req)
		if err != nil {
			cancel()
			if errors.Is(err, errInternalAddress) {
				return fmt.Errorf("webhook %s: not retried: %w", cfg.URL, err)
			}
			last = err
			continue
		}
		resp.Body.Close()
		cancel()
		switch {
		case resp.StatusCode < 300:
			return nil
		case resp.StatusCode < 500:
			return apferr.New(apferr.InvalidRequest, fmt.Sprintf("webhook %s answered %s; not retried", cfg.URL, resp.Status))
		default:
			last = fmt.Errorf("webhook %s answered %s", cfg.URL, resp.Status)
		}
	}
	return fmt.Errorf("webhook %s: giving up after %d attempts: %w", cfg.URL, *cfg.MaxRetries+1, last)
}
