package api

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

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
		p := strings.ReplaceAll(r.Path, ":id", "{id}")
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in schemas/openapi.json", r.Method, r.Path)
		}
	}
}
