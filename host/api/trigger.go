package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// The headers of a signed webhook trigger.
const (
	headerWebhookSignature = "X-Webhook-Signature"
	headerWebhookTimestamp = "X-Webhook-Timestamp"
)

// DefaultWebhookWindow is how far a signed trigger's timestamp may be from the server's
// clock, either way (Config.WebhookWindow).
const DefaultWebhookWindow = 5 * time.Minute

// maxTriggerBody bounds the body of a trigger: it is only signed, never interpreted.
const maxTriggerBody = 1 << 20

// triggerPathPrefix is the path of the trigger route, without the task id.
const triggerPathPrefix = "/webhook/trigger/"

// signedTrigger reports whether a request is a signed webhook trigger: one that
// authenticates with its signature instead of a bearer token (authMiddleware lets it
// through; handleWebhookTrigger verifies the signature).
func signedTrigger(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, triggerPathPrefix) &&
		r.Header.Get(headerWebhookSignature) != ""
}

// handleWebhookTrigger serves POST /webhook/trigger/{task_id}?async=true|false: an
// external scheduler (cron, a CI job) starts a full re-run of a stored task, as
// tasks.execute with "full" does: its whole tree for a root, else its part of the tree
// (docs/semantics.md rule 15), as a schedule on it does. The caller authenticates with either
//
//   - a signature: X-Webhook-Timestamp (Unix seconds, within Config.WebhookWindow of the
//     server's clock) and X-Webhook-Signature (hex HMAC-SHA256 with Config.WebhookSecret
//     over the timestamp, ".", and the raw body; "sha256=" may prefix it). A valid
//     signature acts as an admin. A signature on a server without a secret, a bad or
//     stale one, is refused (401): it is never ignored.
//   - or the bearer token every route takes. When a secret is configured, an unsigned
//     request without a token is refused (401), also when authentication is off: a
//     configured secret means triggers must prove they have it.
//
// async (default true) answers at once {success, status: "triggered", task_id,
// root_task_id, message}; async=false waits for the run and answers {success, task_id,
// root_task_id, status, result, error, children: [{task_id, name, status, result,
// error}]}, the executed task's direct children. A tree already running answers 409
// with status "already_running". The body is not interpreted.
func (s *Server) handleWebhookTrigger(c echo.Context) error {
	r := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxTriggerBody))
	if err != nil {
		return tooLargeOr(err, maxTriggerBody)
	}
	ctx, err := s.authorizeTrigger(r, body)
	if err != nil {
		return writeJSON(c, http.StatusUnauthorized, map[string]any{"success": false, "error": err.Error()})
	}
	async := true
	if v := c.QueryParam("async"); v != "" {
		if async, err = strconv.ParseBool(v); err != nil {
			writeREST(c, apferr.InvalidParam("async", "async must be true or false", "true or false", v))
			return nil
		}
	}
	id, err := pathParam(c, "*")
	if err != nil || id == "" {
		writeREST(c, apferr.InvalidParam("task_id", "the path must be /webhook/trigger/{task_id}", "a task id", c.Param("*")))
		return nil
	}
	if !async {
		liftWriteDeadline(c) // the answer waits for the run
	}
	out, err := s.trigger(ctx, id, async)
	if err != nil {
		if ctx.Err() == nil {
			writeREST(c, err)
		}
		return nil // or the client left; the run goes on
	}
	if out["status"] == "already_running" {
		return writeJSON(c, http.StatusConflict, out)
	}
	return writeJSON(c, http.StatusOK, out)
}

// trigger starts a full re-run of task id, as tasks.execute with "full" does, for POST /webhook/trigger and tasks.webhook.trigger: the answer of an async
// trigger at once, else the run's outcome once it ended (see handleWebhookTrigger). A
// tree already running answers {success: false, status: "already_running", …}. When
// ctx ends first, the error is ctx's and the run goes on.
func (s *Server) trigger(ctx context.Context, id string, async bool) (map[string]any, error) {
	tg, err := s.resolveTarget(ctx, id, nil)
	if err == nil {
		err = s.refuseFrozenRerun(ctx, tg)
	}
	if err != nil {
		return nil, err
	}
	done, _, _, ok, err := s.startRun(ctx, tg, engine.RunOptions{Full: true}, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return map[string]any{"success": false, "status": "already_running",
			"task_id": tg.taskID, "root_task_id": tg.rootID, "error": fmt.Sprintf("Task %s is already running", tg.rootID)}, nil
	}
	if async {
		return map[string]any{"success": true, "status": "triggered", "task_id": tg.taskID,
			"root_task_id": tg.rootID, "message": "Task execution triggered"}, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closing:
	}
	return s.triggerResult(context.WithoutCancel(ctx), tg), nil
}

// authorizeTrigger checks how a trigger authenticates (see handleWebhookTrigger) and
// returns the context to act in.
func (s *Server) authorizeTrigger(r *http.Request, body []byte) (context.Context, error) {
	ctx := r.Context()
	if r.Header.Get(headerWebhookSignature) != "" {
		if err := s.verifyTriggerSignature(r.Header, body); err != nil {
			return nil, err
		}
		return context.WithValue(ctx, callerKey{}, caller{admin: true}), nil
	}
	if len(s.cfg.WebhookSecret) > 0 && !callerFrom(ctx).authn {
		return nil, errors.New("this server requires triggers to be signed: send X-Webhook-Timestamp and X-Webhook-Signature (HMAC-SHA256 of timestamp + \".\" + body with the webhook secret), or a bearer token")
	}
	return ctx, nil
}

// verifyTriggerSignature checks a trigger's signature and the freshness of its
// timestamp.
func (s *Server) verifyTriggerSignature(h http.Header, body []byte) error {
	if len(s.cfg.WebhookSecret) == 0 {
		return errors.New("this server has no webhook secret: a signed trigger cannot be verified (start apflow serve with --webhook-secret)")
	}
	ts := h.Get(headerWebhookTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s must be the Unix time in seconds, got %q", headerWebhookTimestamp, ts)
	}
	window := s.cfg.WebhookWindow
	if window <= 0 {
		window = DefaultWebhookWindow
	}
	if age := s.cfg.Now().Sub(time.Unix(sec, 0)); age > window || age < -window {
		return fmt.Errorf("%s is %s from the server's clock, more than the %s allowed", headerWebhookTimestamp, age.Round(time.Second), window)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(h.Get(headerWebhookSignature)), "sha256="))
	if err != nil {
		return fmt.Errorf("%s must be a hex HMAC-SHA256", headerWebhookSignature)
	}
	if !hmac.Equal(got, triggerMAC(s.cfg.WebhookSecret, ts, body)) {
		return fmt.Errorf("%s does not match the timestamp and body", headerWebhookSignature)
	}
	if !s.triggers.first(hex.EncodeToString(got), s.cfg.Now(), 2*window) {
		return errors.New("this signed trigger was accepted before: sign each trigger anew (a fresh timestamp)")
	}
	return nil
}

// replayGuard remembers accepted signatures until they can no longer be fresh. It is
// this server's: in a cluster, a trigger replayed to another node within the window is
// not caught.
type replayGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature → when it may be forgotten
}

// first records sig and reports whether it was not seen before; entries are kept for
// keep (the signature's whole freshness span) and dropped lazily.
func (g *replayGuard) first(sig string, now time.Time, keep time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	for k, until := range g.seen {
		if now.After(until) {
			delete(g.seen, k)
		}
	}
	if _, ok := g.seen[sig]; ok {
		return false
	}
	g.seen[sig] = now.Add(keep)
	return true
}

// triggerMAC is the HMAC-SHA256 of a trigger: over the timestamp as sent, ".", and the
// raw body.
func triggerMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// triggerResult is the answer of a synchronous trigger: the executed task's outcome and
// its direct children's.
func (s *Server) triggerResult(ctx context.Context, tg target) map[string]any {
	out := s.finalResult(ctx, tg)
	delete(out, "protocol")
	out["children"] = []map[string]any{}
	kids, err := s.cfg.Store.Children(ctx, tg.taskID)
	if err != nil || len(kids) == 0 {
		return out
	}
	slices.SortStableFunc(kids, store.SubmissionOrder)
	children := make([]map[string]any, len(kids))
	for i, x := range kids {
		children[i] = childResult(x)
	}
	out["children"] = children
	return out
}

func childResult(t *task.Task) map[string]any {
	c := map[string]any{"task_id": t.ID, "name": t.Name, "status": t.Status, "result": t.Result}
	if t.Error != "" {
		c["error"] = t.Error
	}
	return c
}
