package retry

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func decode(t testing.TB, doc string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		doc       string
		wantField string // "" means valid
	}{
		{`null`, ""},
		{`{}`, ""},
		{`{"max_attempts": 3, "backoff": {"initial_ms": 10, "multiplier": 1.5, "max_ms": 100, "jitter": 0.5},
		   "retry_on": ["timeout", "trap", "error_result", "error", "code:429", "match:(?i)temporar"]}`, ""},
		{`[]`, "params.retry"},
		{`{"max_attempts": 0}`, "params.retry.max_attempts"},
		{`{"max_attempts": 101}`, "params.retry.max_attempts"},
		{`{"max_attempts": 2.5}`, "params.retry.max_attempts"},
		{`{"max_attempts": "3"}`, "params.retry.max_attempts"},
		{`{"attempts": 3}`, "params.retry.attempts"},
		{`{"max_attempts": 5, "zz": 1}`, "params.retry.zz"},
		{`{"backoff": 5}`, "params.retry.backoff"},
		{`{"backoff": {"initial": 5}}`, "params.retry.backoff.initial"},
		{`{"backoff": {"multiplier": 0.5}}`, "params.retry.backoff.multiplier"},
		{`{"backoff": {"jitter": 1.5}}`, "params.retry.backoff.jitter"},
		{`{"backoff": {"initial_ms": -1}}`, "params.retry.backoff.initial_ms"},
		{`{"backoff": {"initial_ms": 100, "max_ms": 10}}`, "params.retry.backoff.max_ms"},
		{`{"retry_on": []}`, "params.retry.retry_on"},
		{`{"retry_on": "timeout"}`, "params.retry.retry_on"},
		{`{"retry_on": ["timeout", 5]}`, "params.retry.retry_on[1]"},
		{`{"retry_on": ["sometimes"]}`, "params.retry.retry_on[0]"},
		{`{"retry_on": ["code:"]}`, "params.retry.retry_on[0]"},
		{`{"retry_on": ["match:("]}`, "params.retry.retry_on[0]"},
	} {
		t.Run(c.doc, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(decode(t, c.doc), "params.retry")
			if err != nil && fmt.Sprint(s) != fmt.Sprint(Spec{}) {
				t.Fatalf("Parse returned %+v with its error, want an empty layer", s)
			}
			if c.wantField == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.wantField {
				t.Fatalf("Parse error = %v, want one about %s", err, c.wantField)
			}
		})
	}
}

// TestParseAllReportsEveryProblem: a policy with several problems has each one named,
// in field order, and Parse's error is the first.
func TestParseAllReportsEveryProblem(t *testing.T) {
	t.Parallel()
	doc := `{"max_attempts": 0, "backoff": {"jitter": 2, "initial_ms": -1}, "retry_on": ["timeout", "sometimes", 5], "zz": 1}`
	s, probs := ParseAll(decode(t, doc), "params.retry")
	var fields []string
	for _, p := range probs {
		fields = append(fields, p.Field)
	}
	want := []string{"params.retry.backoff.initial_ms", "params.retry.backoff.jitter", "params.retry.max_attempts",
		"params.retry.retry_on[1]", "params.retry.retry_on[2]", "params.retry.zz"}
	if fmt.Sprint(fields) != fmt.Sprint(want) || fmt.Sprint(s) != fmt.Sprint(Spec{}) {
		t.Fatalf("ParseAll = %+v, problems at %v; want an empty layer and problems at %v", s, fields, want)
	}
	if _, err := Parse(decode(t, doc), "params.retry"); err != probs[0] && err.Error() != probs[0].Error() {
		t.Fatalf("Parse error %v, want the first problem %v", err, probs[0])
	}
}

// TestBoundsReadAsNumbers: a value out of range names the range without exponents.
func TestBoundsReadAsNumbers(t *testing.T) {
	t.Parallel()
	_, err := Parse(decode(t, `{"backoff": {"initial_ms": 1e12}}`), "params.retry")
	if err == nil || strings.Contains(err.Error(), "e+") || !strings.Contains(err.Error(), fmt.Sprint(MaxDelayMS)) {
		t.Fatalf("error %v, want the range in plain numbers", err)
	}
	_, err = Parse(decode(t, `{"backoff": {"initial_ms": 1500000.5}}`), "params.retry")
	if err == nil || !strings.Contains(err.Error(), "not 1500000.5") {
		t.Fatalf("error %v, want the fraction in plain numbers", err)
	}
}

func TestResolveLayers(t *testing.T) {
	t.Parallel()
	task, _ := Parse(decode(t, `{"max_attempts": 5}`), "t")
	exec, _ := Parse(decode(t, `{"max_attempts": 2, "backoff": {"initial_ms": 50}, "retry_on": ["error"]}`), "e")
	op, _ := Parse(decode(t, `{"backoff": {"initial_ms": 10, "max_ms": 20, "jitter": 0}}`), "o")
	p := Resolve(task, exec, op)
	want := Policy{MaxAttempts: 5, InitialMS: 20, Multiplier: DefaultMultiplier, MaxMS: 20, Jitter: 0, RetryOn: []string{"error"}}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("Resolve = %+v, want %+v (initial capped by max)", p, want)
	}
	if p := Resolve(); p.MaxAttempts != 1 || fmt.Sprint(p.RetryOn) != fmt.Sprint(DefaultRetryOn) {
		t.Fatalf("no layer: %+v, want one attempt", p)
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	p := Policy{InitialMS: 100, Multiplier: 2, MaxMS: 1000, Jitter: 0.5}
	for _, c := range []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0, 100 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{4, 0, 800 * time.Millisecond},
		{5, 0, time.Second}, // capped
		{60, 0, time.Second},
		{5000, 0, time.Second}, // no overflow
		{1, 0.5, 75 * time.Millisecond},
		{5, 0.999999, 500*time.Millisecond + 500*time.Nanosecond},
		{1, 7, 50 * time.Millisecond}, // a draw outside [0, 1) is clamped
	} {
		if got := p.Delay(c.n, c.u); got != c.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", c.n, c.u, got, c.want)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		on   []string
		f    Failure
		want bool
	}{
		{DefaultRetryOn, Failure{Kind: KindTimeout}, true},
		{DefaultRetryOn, Failure{Kind: KindError}, false},
		{DefaultRetryOn, Failure{Kind: KindPermanent}, false},
		{[]string{"match:."}, Failure{Kind: KindPermanent, Message: "x"}, false},
		{[]string{"code:429"}, Failure{Kind: KindErrorResult, Code: "429"}, true},
		{[]string{"code:429"}, Failure{Kind: KindErrorResult, Code: "500"}, false},
		{[]string{"code:429"}, Failure{Kind: KindErrorResult}, false},
		{[]string{"match:(?i)temporar"}, Failure{Kind: KindError, Message: "Temporary outage"}, true},
		{[]string{"match:^x$"}, Failure{Kind: KindError, Message: "y"}, false},
	} {
		if got := (Policy{RetryOn: c.on}).Retries(c.f); got != c.want {
			t.Errorf("retry_on %v, failure %+v: Retries = %v, want %v", c.on, c.f, got, c.want)
		}
	}
}

type kindErr string

func (k kindErr) Error() string       { return string(k) }
func (k kindErr) FailureKind() string { return string(k) }

func TestClassifyAndCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[error]Kind{
		kindErr("timeout"): KindTimeout, kindErr("out_of_memory"): KindTrap, kindErr("panic"): KindTrap,
		kindErr("invalid_input"): KindPermanent, kindErr("cancelled"): KindPermanent, kindErr("closed"): KindError,
		errors.New("plain"): KindError, fmt.Errorf("wrapped: %w", kindErr("trap")): KindTrap,
	} {
		if got := Classify(in); got != want {
			t.Errorf("Classify(%v) = %s, want %s", in, got, want)
		}
	}
	for doc, want := range map[string]string{
		`{"error": "x", "code": "RATE"}`: "RATE", `{"error": {"code": 429}}`: "429", `{"error": "x"}`: "", `"s"`: "",
	} {
		if got := CodeOf(decode(t, doc)); got != want {
			t.Errorf("CodeOf(%s) = %q, want %q", doc, got, want)
		}
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	t.Parallel()
	var s Spec
	doc := `{"max_attempts":4,"backoff":{"initial_ms":5,"multiplier":3,"max_ms":50,"jitter":0.1},"retry_on":["trap"]}`
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil || string(b) != doc {
		t.Fatalf("Marshal = %s, %v; want %s", b, err, doc)
	}
	if err := json.Unmarshal([]byte(`{"max_attempts": 0}`), &s); err == nil || !strings.Contains(err.Error(), "retry.max_attempts") {
		t.Fatalf("Unmarshal of a bad policy: %v", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts resolves to a policy within
// bounds whose delays stay within [0, max_ms].
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"max_attempts": 3, "backoff": {"initial_ms": 10, "multiplier": 100, "max_ms": 604800000, "jitter": 1}}`,
		`{"retry_on": ["match:a+", "code:x"]}`, `{"backoff": {"initial_ms": 1e300}}`, `[1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		s, err := Parse(v, "retry")
		if err != nil {
			return
		}
		p := Resolve(s)
		if p.MaxAttempts < 1 || p.MaxAttempts > MaxAttemptsLimit {
			t.Fatalf("max_attempts %d out of bounds", p.MaxAttempts)
		}
		for _, n := range []int{1, 2, 10, 100} {
			if got := p.Delay(n, 0.5); got < 0 || got > time.Duration(p.MaxMS)*time.Millisecond {
				t.Fatalf("Delay(%d) = %v outside [0, %d ms]", n, got, p.MaxMS)
			}
		}
	})
}
