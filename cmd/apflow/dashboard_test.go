package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// The dashboard's browser tests: apflow serve as a process, its /ui/ pages in headless
// Chromium (Debian's chromium, which make setup installs), driven with chromedp. Each
// test writes screenshots of the pages it saw into $APFLOW_SCREENSHOTS (default
// build/screenshots at the repository's root), which CI keeps. Without a browser they
// skip, unless APFLOW_REQUIRE_BROWSER is set (CI), which makes that a failure.

// browserWait bounds each browser step.
const browserWait = 60 * time.Second

// browserPath finds Chromium, or skips (fails under APFLOW_REQUIRE_BROWSER).
func browserPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("APFLOW_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH (APFLOW_REQUIRE_BROWSER): make setup installs Debian's chromium")
	}
	t.Skip("no chromium on PATH (make setup installs it)")
	return ""
}

// newTab starts a headless browser for the test and returns a tab's context; both end
// with the test.
func newTab(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// browse runs steps in the tab within browserWait, failing the test with what and the
// page's text.
func browse(t testing.TB, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browseRun(t, tab, what, chromedp.Steps(steps...))
}

// browseRun runs one action in the tab within browserWait and returns its value.
func browseRun[T any](t testing.TB, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy; one that throws (an element
// not there yet) counts as false.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void]("(() => { try { return ("+expr+"); } catch (e) { return false; } })()", chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserWait))
}

// screenshot writes the tab's whole page as NAME.png into the screenshots folder.
func screenshot(t testing.TB, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("APFLOW_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "screenshots")
	}
	png := browseRun(t, tab, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setupDashboard starts apflow serve on the CLI's test executors plus strict (a schema
// with a required name) and noisy (logs, then fails), and a browser tab.
func setupDashboard(t testing.TB, secret string) (*serveProc, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts apflow serve and a browser")
	}
	tab := newTab(t)
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	copyFile(t, "testdata/noisy.wasm", filepath.Join(plugins, "noisy.wasm"))
	return startServe(t, bin, dataDir, plugins, secret), tab
}

func TestDashboardSignIn(t *testing.T) {
	t.Parallel()
	srv, tab := setupDashboard(t, "dashboard-secret")
	token := mintToken(t, srv.bin, "dashboard-secret", "ada", true)
	browse(t, tab, "open /ui/ without a token",
		chromedp.Navigate(srv.url+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-title")))
	screenshot(t, tab, "sign-in")
	browse(t, tab, "a wrong token is refused",
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"),
		chromedp.Click(chromedp.CSS("#signin")),
		waitJS(`document.querySelector("#login-result").textContent.includes("Refused")`))
	screenshot(t, tab, "sign-in-refused")
	browse(t, tab, "sign in with a token",
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#runs-table")))
	title := browseRun(t, tab, "read the title", chromedp.Text(chromedp.CSS("h1")))
	if title != "Runs" {
		t.Fatalf("after sign-in the page is %q, want Runs", title)
	}
	screenshot(t, tab, "runs")
	// The API itself still refuses a call without the token: the pages add nothing.
	if code, _ := srv.do(t, "", "POST", "/tasks", []byte(`{"jsonrpc":"2.0","id":1,"method":"tasks.list"}`), "application/json"); code != 401 {
		t.Fatalf("tasks.list without a token: HTTP %d, want 401", code)
	}
}

// TestDashboardSubmitWatchCancel submits a tree from the Submit page, watches its
// statuses change on the tree page without a reload, cancels it there, and sees the
// cancelled root on the Runs page.
func TestDashboardSubmitWatchCancel(t *testing.T) {
	t.Parallel()
	srv, tab := setupDashboard(t, "")
	pad := strings.Repeat("x", 1500) // about half a second of spinning per task
	var b strings.Builder
	b.WriteString(`[{"id": "r", "name": "watched", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["s39"]}`)
	for i := range 40 {
		dep := ""
		if i > 0 {
			dep = fmt.Sprintf(`, "dependencies": ["s%d"]`, i-1)
		}
		fmt.Fprintf(&b, `, {"id": "s%d", "name": "step %d", "parent_id": "r", "schemas": {"method": "spin"}, "inputs": {"pad": %q}%s}`, i, i, pad, dep)
	}
	b.WriteString("]")
	tree := b.String()
	browse(t, tab, "open the Submit page",
		chromedp.Navigate(srv.url+"/ui/#/submit"),
		chromedp.WaitVisible(chromedp.CSS("#tree-json")),
		chromedp.SetValue(chromedp.CSS("#tree-json"), `[{"name": "a", "schemas": {"method": "nope"}}, {"name": "b"}]`),
		chromedp.Click(chromedp.CSS("#check-tree")),
		waitJS(`document.querySelector("#problems").textContent.includes('no executor "nope" is loaded')`))
	screenshot(t, tab, "submit-problems")
	browse(t, tab, "submit a tree and land on its page",
		chromedp.SetValue(chromedp.CSS("#tree-json"), tree),
		chromedp.Click(chromedp.CSS("#run-tree")),
		chromedp.WaitVisible(chromedp.CSS("#tree-canvas svg")),
		chromedp.Evaluate[chromedp.Void](`window.samePage = true`),
		// Live: a step is seen running, then later steps complete, all without a reload.
		waitJS(`document.querySelector('#tree-counts [data-status="in_progress"]').textContent.trim().endsWith(" 1")`),
		waitJS(`Number(document.querySelector('#tree-counts [data-status="completed"]').textContent.trim().split(" ").pop()) >= 2`),
		waitJS(`document.querySelector("#tree-canvas .status-completed") !== null && window.samePage === true`))
	screenshot(t, tab, "tree-running")
	browse(t, tab, "cancel the running tree",
		chromedp.Click(chromedp.CSS("#cancel-tree")),
		waitJS(`[...document.querySelectorAll("h1 .badge")].some(b => b.textContent === "cancelled")`))
	browse(t, tab, "the timeline view",
		chromedp.Click(chromedp.CSS(`button[data-mode="timeline"]`)),
		waitJS(`document.querySelector("#tree-canvas").textContent.includes("step 0")`))
	screenshot(t, tab, "tree-timeline")
	var root struct{ Status string }
	srv.mustCall(t, "", "tasks.get", map[string]any{"task_id": rootIDOf(t, srv, "watched")}, &root)
	if root.Status != "cancelled" {
		t.Fatalf("root after Cancel tree: %s, want cancelled", root.Status)
	}
	browse(t, tab, "the runs page shows it",
		chromedp.Navigate(srv.url+"/ui/#/runs?status=cancelled&q=WATCH&executor=aggregate_results_executor"),
		waitJS(`document.querySelector("#runs-table").textContent.includes("watched")`),
		// The tree's own counts: the steps that ran completed, the rest cancelled.
		waitJS(`/^41 tasks: \d+ completed · \d+ cancelled$/.test(document.querySelector("#runs-table .tree-counts").textContent)`))
	screenshot(t, tab, "runs-cancelled")
}

// rootIDOf is the id of the newest root task named name.
func rootIDOf(t *testing.T, srv *serveProc, name string) string {
	t.Helper()
	var list []struct{ ID, Name string }
	srv.mustCall(t, "", "tasks.list", map[string]any{"root_only": true}, &list)
	for _, x := range list {
		if x.Name == name {
			return x.ID
		}
	}
	t.Fatalf("no root named %s in %+v", name, list)
	return ""
}

// TestDashboardFailedTask opens a failed task and reads its error and its log lines.
func TestDashboardFailedTask(t *testing.T) {
	t.Parallel()
	srv, tab := setupDashboard(t, "")
	var res struct {
		RootTaskID string `json:"root_task_id"`
		Status     string
	}
	srv.mustCall(t, "", "tasks.execute", map[string]any{"tasks": []map[string]any{
		{"id": "f", "name": "gives up", "schemas": map[string]any{"method": "noisy"}},
	}}, &res)
	if res.Status != "failed" {
		t.Fatalf("noisy: %s, want failed", res.Status)
	}
	browse(t, tab, "open the failed task",
		chromedp.Navigate(srv.url+"/ui/#/task/"+res.RootTaskID),
		waitJS(`document.querySelector("pre.error-text") && document.querySelector("pre.error-text").textContent.includes("noisy gave up")`),
		waitJS(`document.querySelector("#task-logs").textContent.includes("error")`))
	screenshot(t, tab, "task-failed")
}

// TestDashboardUploadAndRun uploads a plugin from the Plugins page (the C kit's template,
// which make kits builds), and runs it from the form generated from its input schema:
// the form refuses a missing name in the browser, then the run shows the result.
func TestDashboardUploadAndRun(t *testing.T) {
	t.Parallel()
	module := builtFile(t, "../../build/plugins/template_c.wasm", "kits")
	srv, tab := setupDashboard(t, "")
	browse(t, tab, "upload template_c.wasm",
		chromedp.Navigate(srv.url+"/ui/#/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#plugin-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#plugin-file"), []string{module}),
		chromedp.Click(chromedp.CSS("#upload")),
		waitJS(`location.hash === "#/plugins/template_c" && document.querySelector("#run-executor") !== null`))
	screenshot(t, tab, "plugin")
	browse(t, tab, "the form refuses a missing name",
		chromedp.Click(chromedp.CSS("#run-executor")),
		waitJS(`document.querySelector('[data-path="name"][aria-invalid="true"]') !== null`))
	screenshot(t, tab, "plugin-form-refused")
	browse(t, tab, "run with a name",
		chromedp.SendKeys(chromedp.CSS(`input[data-path="name"]`), "Ada"),
		chromedp.Click(chromedp.CSS("#run-executor")),
		waitJS(`document.querySelector("#run-result").textContent.includes("completed") && document.querySelector("#run-result").textContent.includes("Hello, Ada!")`))
	screenshot(t, tab, "plugin-run")
	var list []json.RawMessage
	srv.mustCall(t, "", "tasks.list", map[string]any{}, &list)
	if len(list) != 1 {
		t.Fatalf("%d trees after one run from the form, want 1", len(list))
	}
}

// TestDashboardSystem shows the System page with its health and a metrics chart.
func TestDashboardSystem(t *testing.T) {
	t.Parallel()
	srv, tab := setupDashboard(t, "")
	browse(t, tab, "open the System page",
		chromedp.Navigate(srv.url+"/ui/#/system"),
		waitJS(`document.querySelector("#health") && document.querySelector("#health").textContent.includes("single")`),
		waitJS(`document.querySelector("#chart-pending svg") !== null`))
	screenshot(t, tab, "system")
}

// TestDashboardPhoneDarkKeyboard: on a phone's viewport in dark mode, the pages fit the
// screen's width, and a tree's task is reached and opened with the keyboard alone.
func TestDashboardPhoneDarkKeyboard(t *testing.T) {
	t.Parallel()
	srv, tab := setupDashboard(t, "")
	var res struct {
		RootTaskID string `json:"root_task_id"`
	}
	srv.mustCall(t, "", "tasks.execute", map[string]any{"tasks": []map[string]any{
		{"id": "k-root", "name": "keyboard", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"k-a"}},
		{"id": "k-a", "name": "echoes", "parent_id": "k-root", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"x": 1}},
	}}, &res)
	fits := `document.documentElement.scrollWidth <= window.innerWidth + 1`
	browse(t, tab, "a phone, dark mode",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.url+"/ui/#/runs"),
		waitJS(`document.querySelector("#runs-table table") !== null`),
		chromedp.Click(chromedp.CSS("#theme")),
		waitJS(`document.documentElement.dataset.theme === "dark" && document.querySelector("#theme").getAttribute("aria-pressed") === "true"`),
		waitJS(`getComputedStyle(document.body).backgroundColor === "rgb(20, 23, 27)"`),
		waitJS(fits))
	screenshot(t, tab, "phone-dark-runs")
	browse(t, tab, "the tree, then a task by keyboard",
		chromedp.Navigate(srv.url+"/ui/#/tree/"+res.RootTaskID),
		waitJS(`document.querySelector('#tree-canvas g.task[data-id="k-a"]') !== null`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#tree-canvas g.task[data-id="k-a"]').focus()`),
		chromedp.KeyEvent("\r"),
		waitJS(`location.hash === "#/task/k-a" && document.querySelector("h1").textContent.includes("echoes")`),
		waitJS(`document.activeElement === document.querySelector("h1")`),
		waitJS(fits))
	screenshot(t, tab, "phone-dark-task")
}
