package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testWebhookSecret = "trigger-secret"

// trigger sends a POST to path (a trigger route) with the headers and the token (if
// any), and decodes the JSON answer.
func (e *env) trigger(t *testing.T, path, token, body string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	code, raw := e.postHeaders(t, path, token, body, headers)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: HTTP %d, not JSON: %s", path, code, raw)
	}
	return code, out
}

// signed returns the headers of a trigger signed with secret at time at.
func signed(secret, body string, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{headerWebhookTimestamp: ts,
		headerWebhookSignature: "sha256=" + hex.EncodeToString(triggerMAC([]byte(secret), ts, []byte(body)))}
}

func withWebhookSecret(auth bool) setupOpts {
	return setupOpts{auth: auth, mutate: func(c *Config) { c.WebhookSecret = []byte(testWebhookSecret) }}
}

// TestWebhookTriggerAuthentication: with a secret, a trigger is accepted when signed
// (fresh, over its body) or with a bearer token, and refused (401, nothing run)
// otherwise; a signature on a server without a secret is refused, never ignored.
func TestWebhookTriggerAuthentication(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := `{"from":"cron"}`
	tamper := signed(testWebhookSecret, body, now)
	tamper[headerWebhookSignature] = strings.Replace(tamper[headerWebhookSignature], "a", "b", 1)
	if tamper[headerWebhookSignature] == signed(testWebhookSecret, body, now)[headerWebhookSignature] {
		tamper[headerWebhookSignature] = strings.Replace(tamper[headerWebhookSignature], "0", "1", 1)
	}
	tests := []struct {
		name    string
		opts    setupOpts
		token   bool // send an admin bearer token
		headers map[string]string
		body    string
		want    int
	}{
		{"signed", withWebhookSecret(false), false, signed(testWebhookSecret, body, now), body, http.StatusOK},
		{"signed, auth on", withWebhookSecret(true), false, signed(testWebhookSecret, body, now), body, http.StatusOK},
		{"token, no signature", withWebhookSecret(true), true, nil, body, http.StatusOK},
		{"unsigned, auth off", withWebhookSecret(false), false, nil, body, http.StatusUnauthorized},
		{"unsigned, auth on, no token", withWebhookSecret(true), false, nil, body, http.StatusUnauthorized},
		{"wrong secret", withWebhookSecret(false), false, signed("other", body, now), body, http.StatusUnauthorized},
		{"tampered signature", withWebhookSecret(false), false, tamper, body, http.StatusUnauthorized},
		{"other body", withWebhookSecret(false), false, signed(testWebhookSecret, body, now), `{"from":"evil"}`, http.StatusUnauthorized},
		{"stale", withWebhookSecret(false), false, signed(testWebhookSecret, body, now.Add(-6*time.Minute)), body, http.StatusUnauthorized},
		{"from the future", withWebhookSecret(false), false, signed(testWebhookSecret, body, now.Add(6*time.Minute)), body, http.StatusUnauthorized},
		{"bad timestamp", withWebhookSecret(false), false, map[string]string{headerWebhookTimestamp: "yesterday", headerWebhookSignature: "00"}, body, http.StatusUnauthorized},
		{"signature without a secret", setupOpts{}, false, signed(testWebhookSecret, body, now), body, http.StatusUnauthorized},
		{"no secret, auth off", setupOpts{}, false, nil, body, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tt.opts)
			token := ""
			if tt.opts.auth {
				token = e.token(t, "admin-user", "admin")
			}
			e.ok(t, token, "tasks.create", tree("w"), nil)
			if !tt.token {
				token = ""
			}
			code, out := e.trigger(t, "/webhook/trigger/w-root?async=false", token, tt.body, tt.headers)
			if code != tt.want {
				t.Fatalf("HTTP %d %v, want %d", code, out, tt.want)
			}
			var root taskView
			e.ok(t, e.adminToken(t, tt.opts), "tasks.get", map[string]any{"task_id": "w-root"}, &root)
			if ran := root.Status == "completed"; ran != (tt.want == http.StatusOK) {
				t.Fatalf("root is %s after HTTP %d", root.Status, code)
			}
			if code == http.StatusOK && (out["success"] != true || out["status"] != "completed") {
				t.Errorf("answer %v", out)
			}
			// A request without any credentials is refused by the authentication every
			// route has, in its own shape; the trigger's refusals say success false.
			if code == http.StatusUnauthorized && out["error"] == nil {
				t.Errorf("refusal %v, want the reason", out)
			}
		})
	}
}

// TestWebhookTriggerReplayRefused: a signed trigger accepted once is refused when sent
// again, however fresh its timestamp still is.
func TestWebhookTriggerReplayRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, withWebhookSecret(false))
	e.ok(t, "", "tasks.create", tree("r"), nil)
	h := signed(testWebhookSecret, "", time.Now())
	if code, out := e.trigger(t, "/webhook/trigger/r-root?async=false", "", "", h); code != http.StatusOK {
		t.Fatalf("first: HTTP %d %v", code, out)
	}
	if code, out := e.trigger(t, "/webhook/trigger/r-root?async=false", "", "", h); code != http.StatusUnauthorized {
		t.Fatalf("replay: HTTP %d %v, want 401", code, out)
	}
}

// adminToken is an admin token when the server authenticates, else "".
func (e *env) adminToken(t *testing.T, o setupOpts) string {
	if !o.auth {
		return ""
	}
	return e.token(t, "admin-user", "admin")
}

// TestWebhookTriggerRuns: async answers at once and the run happens; sync answers the
// outcome with the children in submission order; a running tree answers 409; a missing
// task 404; a non-admin's token triggers only its own tasks.
func TestWebhookTriggerRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob := e.token(t, "alice"), e.token(t, "bob")
	e.ok(t, alice, "tasks.create", tree("t"), nil)

	code, out := e.trigger(t, "/webhook/trigger/t-root", alice, "", nil)
	if code != http.StatusOK || out["status"] != "triggered" || out["success"] != true || out["task_id"] != "alice/t-root" {
		t.Fatalf("async trigger: HTTP %d %v", code, out)
	}
	// The root's status is stored before its run ends; a trigger in between is refused
	// as already running.
	waitFor(t, func() bool {
		var root taskView
		e.ok(t, alice, "tasks.get", map[string]any{"task_id": "t-root"}, &root)
		return root.Status == "completed" && !e.srv.rootRunning(t.Context(), "alice/t-root", nil)
	})

	code, out = e.trigger(t, "/webhook/trigger/t-root?async=false", alice, "", nil)
	children, _ := out["children"].([]any)
	if code != http.StatusOK || out["status"] != "completed" || len(children) != 2 {
		t.Fatalf("sync trigger: HTTP %d %v, want completed with 2 children", code, out)
	}
	for i, c := range children {
		// In submission order, though t-b is the more urgent.
		if want := []string{"alice/t-a", "alice/t-b"}[i]; c.(map[string]any)["status"] != "completed" || c.(map[string]any)["task_id"] != want {
			t.Errorf("child %d: %v, want %s completed", i, c, want)
		}
	}

	if code, out = e.trigger(t, "/webhook/trigger/t-root", bob, "", nil); code != http.StatusNotFound {
		t.Errorf("bob triggering alice's task: HTTP %d %v, want 404", code, out)
	}
	if code, out = e.trigger(t, "/webhook/trigger/nope", alice, "", nil); code != http.StatusNotFound {
		t.Errorf("missing task: HTTP %d %v, want 404", code, out)
	}
	if code, out = e.trigger(t, "/webhook/trigger/t-root?async=maybe", alice, "", nil); code != http.StatusBadRequest {
		t.Errorf("async=maybe: HTTP %d %v, want 400", code, out)
	}

	slow := []map[string]any{{"id": "s-root", "name": "s-root", "schemas": map[string]any{"method": "sleep"}, "inputs": map[string]any{"ms": 30000}}}
	e.ok(t, alice, "tasks.create", slow, nil)
	if code, _ = e.trigger(t, "/webhook/trigger/s-root", alice, "", nil); code != http.StatusOK {
		t.Fatalf("trigger s-root: HTTP %d", code)
	}
	waitFor(t, func() bool { return e.srv.rootRunning(t.Context(), "alice/s-root", nil) })
	if code, out = e.trigger(t, "/webhook/trigger/s-root", alice, "", nil); code != http.StatusConflict || out["status"] != "already_running" {
		t.Errorf("trigger of a running tree: HTTP %d %v, want 409 already_running", code, out)
	}
	e.ok(t, alice, "tasks.cancel", map[string]any{"task_ids": []string{"s-root"}}, nil)
}

// FuzzTriggerSignature: whatever headers and body arrive, verification never panics and
// accepts only the MAC of that timestamp and body.
func FuzzTriggerSignature(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("1800000000", "sha256=00", []byte("{}"))
	f.Add("-1", "zz", []byte(nil))
	f.Add("1800000000", hex.EncodeToString(triggerMAC([]byte(testWebhookSecret), "1800000000", []byte("x"))), []byte("x"))
	s := &Server{cfg: Config{WebhookSecret: []byte(testWebhookSecret), Now: func() time.Time { return now }}}
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(headerWebhookTimestamp, ts)
		h.Set(headerWebhookSignature, sig)
		err := s.verifyTriggerSignature(h, body)
		want := hex.EncodeToString(triggerMAC([]byte(testWebhookSecret), h.Get(headerWebhookTimestamp), body))
		got := strings.TrimPrefix(strings.TrimSpace(h.Get(headerWebhookSignature)), "sha256=")
		if err == nil && !strings.EqualFold(got, want) {
			t.Fatalf("accepted signature %q for timestamp %q", sig, ts)
		}
	})
}
