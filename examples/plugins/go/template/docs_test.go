package main

import (
	"os"
	"strings"
	"testing"
)

// TestGuideShowsThisTemplate: docs/writing-plugins.md shows this directory's main.go as
// "the whole plugin"; the two must not drift apart (the guide's snippet once lacked an
// import and did not compile). This file is not among those the guide copies.
func TestGuideShowsThisTemplate(t *testing.T) {
	guide, err := os.ReadFile("../../../../docs/writing-plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src[strings.Index(string(src), "package main"):])
	if !strings.Contains(string(guide), "```go\n"+body+"```\n") {
		t.Error("docs/writing-plugins.md does not show main.go (from `package main` on) verbatim in a go block")
	}
}
