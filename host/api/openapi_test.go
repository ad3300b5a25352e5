package api

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// pathParamPattern is a path parameter in Echo's spelling, :name.
var pathParamPattern = regexp.MustCompile(`:(\w+)`)

// TestOpenAPICoversRoutes checks that schemas/openapi.json documents every route.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../schemas/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	e := setup(t, setupOpts{})
	for _, r := range e.srv.echo.Routes() {
		p := pathParamPattern.ReplaceAllString(r.Path, "{$1}")
		p = strings.Replace(p, triggerPathPrefix+"*", triggerPathPrefix+"{task_id}", 1)
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in schemas/openapi.json", r.Method, r.Path)
		}
	}
}

// TestOpenAPIServed checks that GET /openapi.json serves the published document.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	resp, err := e.http.Client().Get(e.http.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: status %d, %v", resp.StatusCode, err)
	}
	if doc.OpenAPI == "" || doc.Paths["/tasks"]["post"] == nil || doc.Paths["/openapi.json"]["get"] == nil {
		t.Fatalf("served document lacks the expected paths: %v", doc.Paths)
	}
}
