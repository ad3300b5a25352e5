package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// privateWebhooks is the setup of tests whose webhook receivers listen on loopback.
var privateWebhooks = setupOpts{mutate: func(c *Config) { c.WebhookAllowPrivate = true }}

func TestWebhookURLCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url     string
		refused bool // without WebhookAllowPrivate
	}{
		{"http://127.0.0.1/hook", true},
		{"http://127.1.2.3:8080/hook", true},
		{"http://[::1]:9000/", true},
		{"http://localhost/hook", true},
		{"http://LocalHost.:80/hook", true},
		{"http://api.localhost/hook", true},
		{"http://10.0.0.7/hook", true},
		{"http://172.16.4.1/hook", true},
		{"http://192.168.1.1/hook", true},
		{"http://169.254.169.254/latest/meta-data", true},
		{"http://[fe80::1%25eth0]/", true},
		{"http://[fd12:3456::1]/", true},
		{"http://[::ffff:127.0.0.1]/", true},
		{"http://0.0.0.0:8080/", true},
		{"http://[::]/", true},
		{"http://224.0.0.251/", true},
		{"http://93.184.216.34/hook", false},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", false},
		{"https://hooks.example.com/apflow", false},
		{"http://localhost.example.com/", false}, // a public name; its addresses are checked at dial time
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			w := &webhookConfig{URL: tc.url}
			err := w.check(false)
			if (err != nil) != tc.refused {
				t.Fatalf("check(%s) = %v, refused want %v", tc.url, err, tc.refused)
			}
			if err != nil && !strings.Contains(err.Error(), "webhook_config.url") {
				t.Fatalf("error does not name the field: %v", err)
			}
			if err := (&webhookConfig{URL: tc.url}).check(true); err != nil {
				t.Fatalf("check(%s) with private allowed = %v", tc.url, err)
			}
		})
	}
}

func TestWebhookDialControl(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"10.1.2.3:80", true},
		{"192.168.0.10:8080", true},
		{"169.254.169.254:80", true},
		{"[fe80::1%eth0]:80", true},
		{"[fd00::5]:80", true},
		{"0.0.0.0:80", true},
		{"not-an-ip:80", true}, // the dialer always hands over resolved addresses
		{"93.184.216.34:443", false},
		{"[2606:4700::1111]:443", false},
	}
	for _, tc := range cases {
		err := webhookDialControl("tcp", tc.addr, nil)
		if (err != nil) != tc.refused {
			t.Errorf("control(%s) = %v, refused want %v", tc.addr, err, tc.refused)
		}
		if err != nil && !errors.Is(err, errInternalAddress) {
			t.Errorf("control(%s) = %v, not errInternalAddress", tc.addr, err)
		}
	}
}

// mappedDial resolves the names in hosts itself (a stand-in for DNS answering with an
// internal address) and dials through d, whose Control sees the resolved address.
func mappedDial(d *net.Dialer, hosts map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip, ok := hosts[host]; ok {
			addr = net.JoinHostPort(ip, port)
		}
		return d.DialContext(ctx, network, addr)
	}
}

func TestWebhookClientRefusesInternalNames(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer hook.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))
	hosts := map[string]string{"hooks.rebind.test": "127.0.0.1"}
	cases := []struct {
		name         string
		url          string
		allowPrivate bool
		wantOK       bool
	}{
		{"localhost resolved by the system", "http://localhost:" + port + "/", false, false},
		{"name resolving to loopback", "http://hooks.rebind.test:" + port + "/", false, false},
		{"loopback literal", hook.URL, false, false},
		{"allowed: localhost", "http://localhost:" + port + "/", true, true},
		{"allowed: name resolving to loopback", "http://hooks.rebind.test:" + port + "/", true, true},
	}
	for _, tc := range cases {
		before := hits.Load()
		c := newWebhookClient(mappedDial(newWebhookDialer(tc.allowPrivate), hosts))
		resp, err := c.Post(tc.url, "application/json", strings.NewReader("{}"))
		if tc.wantOK {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			resp.Body.Close()
			if hits.Load() != before+1 {
				t.Fatalf("%s: receiver not reached", tc.name)
			}
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: request went through", tc.name)
		}
		if !errors.Is(err, errInternalAddress) {
			t.Fatalf("%s: error %v is not errInternalAddress", tc.name, err)
		}
		if hits.Load() != before {
			t.Fatalf("%s: receiver reached", tc.name)
		}
	}
}

func TestWebhookSSRFThroughAPI(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer hook.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))
	logs := &logbuf.Buffer{}
	e := setup(t, setupOpts{mutate: func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn})
		// The default guarded dialer, behind a "DNS" that answers loopback for this name.
		c.WebhookClient = newWebhookClient(mappedDial(newWebhookDialer(false), map[string]string{"hooks.rebind.test": "127.0.0.1"}))
	}})

	// Literals and localhost: refused before anything runs.
	for _, u := range []string{hook.URL, "http://localhost:" + port + "/", "http://[::1]:" + port, "http://169.254.169.254/latest"} {
		ej := e.fails(t, "", "tasks.execute", map[string]any{"tasks": tree("lit"), "webhook_config": map[string]any{"url": u}}, -32602)
		if data, _ := ej.Data.(map[string]any); data["field"] != "webhook_config.url" {
			t.Fatalf("%s: error data %v", u, ej.Data)
		}
	}
	if _, err := e.srv.cfg.Store.Get(context.Background(), "lit-root"); err == nil {
		t.Fatal("a refused execute stored its inline tasks")
	}

	// A name resolving to loopback: the run goes on, the delivery fails and is logged,
	// and is not retried.
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("dns"), "webhook_config": map[string]any{
		"url": "http://hooks.rebind.test:" + port + "/hook", "max_retries": 3}}, &res)
	if res["status"] != "started" {
		t.Fatalf("execute = %v", res)
	}
	waitFor(t, func() bool {
		return !e.srv.rootRunning(t.Context(), "dns-root", nil) && strings.Contains(logs.String(), "webhook delivery failed")
	})
	time.Sleep(50 * time.Millisecond)
	if got := logs.String(); !strings.Contains(got, "internal address refused") || strings.Count(got, "webhook delivery failed") != 1 {
		t.Fatalf("logs:\n%s", got)
	}
	if hits.Load() != 0 {
		t.Fatalf("receiver reached %d times", hits.Load())
	}
	var root taskView
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "dns-root"}, &root)
	if root.Status != "completed" {
		t.Fatalf("run status %s: a refused webhook must not affect the run", root.Status)
	}
}
