package api

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLongCallsOutliveTheWriteTimeout: a tasks.execute that waits for its run answers
// even when the run takes longer than the server's write timeout (the call lifts it for
// itself, as streams do); a short call keeps the timeout.
func TestLongCallsOutliveTheWriteTimeout(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{mutate: func(c *Config) { c.WriteTimeout = 300 * time.Millisecond }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.srv.Serve(ln) }()
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks.execute","params":{"tasks":[{"name":"slow","schemas":{"method":"sleep"},"inputs":{"ms":900}}]}}`
	resp, err := http.Post("http://"+ln.Addr().String()+"/tasks", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("tasks.execute of a run longer than the write timeout: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(b), `"status":"completed"`) {
		t.Fatalf("answer: %s, %v", b, err)
	}
}
