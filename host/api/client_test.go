package api

import (
	"context"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/client"
)

// The client lives in its own package; it is tested here against a real server.
func TestClient(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	ctx := context.Background()
	c := client.New(e.http.URL, e.token(t, "alice"), e.http.Client())
	var res map[string]any
	if err := c.Call(ctx, "tasks.execute", map[string]any{"tasks": tree("cl")}, &res); err != nil {
		t.Fatal(err)
	}
	if res["status"] != "completed" {
		t.Fatalf("execute = %v", res)
	}
	err := c.Call(ctx, "tasks.get", map[string]any{"task_id": "missing"}, nil)
	if ae := apferr.As(err); ae == nil || ae.Code != apferr.TaskNotFound {
		t.Fatalf("get missing = %v", err)
	}
	var types []string
	err = c.ExecuteStream(ctx, map[string]any{"task_id": "cl-root", "full": true}, func(f client.Frame) error {
		types = append(types, f.Type())
		return nil
	})
	if err != nil || types[0] != "" || types[len(types)-1] != "stream_end" {
		t.Fatalf("stream = %v %v", types, err)
	}
	if err := c.Follow(ctx, "cl-root", func(client.Frame) error { return nil }); err != nil {
		t.Fatal(err)
	}
	bad := client.New(e.http.URL, "nope", e.http.Client())
	if ae := apferr.As(bad.Call(ctx, "tasks.list", nil, nil)); ae == nil || ae.Code != apferr.Unauthorized {
		t.Fatalf("bad token call: %v", ae)
	}
	admin := client.New(e.http.URL, e.token(t, "root", "admin"), e.http.Client())
	info, err := admin.UploadPlugin(ctx, "up", []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil || info.ID != "up" {
		t.Fatalf("upload = %+v %v", info, err)
	}
	if err := admin.RemovePlugin(ctx, "up"); err != nil {
		t.Fatal(err)
	}
	if ae := apferr.As(admin.RemovePlugin(ctx, "up")); ae == nil || ae.Code != apferr.ExecutorNotFound {
		t.Fatalf("second remove = %v", ae)
	}
}
