package generate

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		name, text string
		n          int    // tasks expected; 0: an error
		err        string // substring of the error
	}{
		{name: "bare array", text: `[{"name":"a"},{"name":"b"}]`, n: 2},
		{name: "json fence", text: "Sure.\n```json\n[{\"name\":\"a\"}]\n```\nDone.", n: 1},
		{name: "plain fence", text: "```\n{\"tasks\":[{\"name\":\"a\"}]}\n```", n: 1},
		{name: "unclosed fence", text: "```json\n[{\"name\":\"a\"}]", n: 1},
		{name: "prose around", text: "The tree [see below]: [{\"name\":\"a\"}] hope it helps", n: 1},
		{name: "one task object", text: `{"name":"a","schemas":{"method":"x"}}`, n: 1},
		{name: "numbers keep text", text: `[{"name":"a","inputs":{"n":1.50}}]`, n: 1},
		{name: "no json", text: "I cannot help.", err: "holds no JSON array"},
		{name: "broken", text: `[{"name": "a",]`, err: "not valid JSON"},
		{name: "empty array", text: `[]`, err: "empty"},
		{name: "not objects", text: `[1,2]`, err: "not an object"},
		{name: "tasks not array", text: `{"tasks": 3}`, err: `"tasks" is not an array`},
		{name: "object without name", text: `{"a": 1}`, err: "neither"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tasks, err := parseAnswer(c.text)
			if c.n == 0 {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(tasks) != c.n {
				t.Fatalf("tasks = %v, err = %v", tasks, err)
			}
		})
	}
	tasks, _ := parseAnswer(`[{"name":"a","inputs":{"n":1.50}}]`)
	if b, _ := marshalTasks(tasks); !strings.Contains(string(b), "1.50") {
		t.Errorf("number text lost: %s", b)
	}
}

// FuzzParseAnswer: the parser never panics, and whatever it accepts is a non-empty list
// of objects that encodes back to JSON.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{goodTree, cycleTree, twoRoots, "```json\n[", "[{", "{\"tasks\":[{}]}", "``` \n```", "[[[[{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tasks, err := parseAnswer(text)
		if err != nil {
			return
		}
		if len(tasks) == 0 {
			t.Fatal("accepted an empty list")
		}
		b, err := marshalTasks(tasks)
		if err != nil || !json.Valid(b) {
			t.Fatalf("accepted tasks do not encode: %v", err)
		}
	})
}
