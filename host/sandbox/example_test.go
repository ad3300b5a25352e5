package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// Load a plugin and run one task with it.
func Example() {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{
		// CacheDir: filepath.Join(dataDir, "wasm-cache"), // persistent compilation cache
		Grants: func(plugin string) sandbox.Grants {
			if plugin == "http_proxy" {
				return sandbox.Grants{HTTP: []string{"api.example.com"}}
			}
			return sandbox.Grants{} // default deny
		},
	})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	wasm, err := os.ReadFile("testdata/echo.wasm")
	if err != nil {
		panic(err)
	}
	m, err := rt.Load(ctx, wasm, "echo.wasm")
	if err != nil {
		panic(err)
	}
	defer m.Close(ctx)
	fmt.Println(m.Info().ID, m.Info().Kind, m.IsExecutor())

	resp, err := m.Execute(ctx, &executor.Request{
		Task:   &task.Task{ID: "t1"},
		Inputs: json.RawMessage(`{"text":"hi"}`),
		Limits: task.Limits{TimeoutMS: 2000}, // memory and result size: operator defaults
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(resp.Output), resp.Usage.HostCalls)

	// A plugin that loops forever is interrupted at its limit.
	loop, _ := os.ReadFile("testdata/loop.wasm")
	lm, _ := rt.Load(ctx, loop, "loop.wasm")
	_, err = lm.Execute(ctx, &executor.Request{Inputs: json.RawMessage(`{}`), Limits: task.Limits{TimeoutMS: 100}})
	fmt.Println(sandbox.KindOf(err))
	// Output:
	// echo wasm true
	// {"text":"hi"} 2
	// timeout
}
