package api

import (
	"encoding/json"
	"testing"
)

// TestParamsErrorNamesOneFieldAlways: params with several bad fields get the same
// error every time (the first field in order), not one picked by map iteration.
func TestParamsErrorNamesOneFieldAlways(t *testing.T) {
	t.Parallel()
	m := &method{name: "tasks.list"}
	if err := m.compileSchema(); err != nil {
		t.Fatal(err)
	}
	params := json.RawMessage(`{"status": "done", "offset": -1, "limit": "ten", "colour": 1}`)
	const want = "Invalid params: colour: additionalProperties 'colour' not allowed"
	for range 50 {
		if err := m.validate(params); err == nil || err.Error() != want {
			t.Fatalf("validate = %v, want %s", err, want)
		}
	}
}
