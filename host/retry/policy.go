package retry

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bounds of a policy's fields.
const (
	MaxAttemptsLimit = 100
	MaxDelayMS       = 7 * 24 * 3600 * 1000 // a week
	MaxMultiplier    = 100
	maxRetryOn       = 32
	maxPatternLen    = 1000
)

// Defaults of the fields no layer sets.
const (
	DefaultInitialMS  = 1000
	DefaultMultiplier = 2.0
	DefaultMaxMS      = 5 * 60 * 1000
	DefaultJitter     = 0.2
)

// DefaultRetryOn is what a policy retries when no layer sets retry_on: the failures a
// later attempt may well not repeat.
var DefaultRetryOn = []string{string(KindTimeout), string(KindTrap), string(KindErrorResult)}

// Spec is one layer of a policy as written: a nil field is not set by this layer. Its
// JSON form is the wire form of params.retry:
//
//	{"max_attempts": 3,
//	 "backoff": {"initial_ms": 500, "multiplier": 2, "max_ms": 10000, "jitter": 0.2},
//	 "retry_on": ["timeout", "trap", "error_result", "error", "code:RATE_LIMITED", "match:(?i)temporar"]}
type Spec struct {
	MaxAttempts *int     `json:"max_attempts,omitempty"`
	InitialMS   *int64   `json:"-"`
	Multiplier  *float64 `json:"-"`
	MaxMS       *int64   `json:"-"`
	Jitter      *float64 `json:"-"`
	RetryOn     []string `json:"retry_on,omitempty"`
}

// MarshalJSON writes the wire form.
func (s Spec) MarshalJSON() ([]byte, error) {
	type backoff struct {
		InitialMS  *int64   `json:"initial_ms,omitempty"`
		Multiplier *float64 `json:"multiplier,omitempty"`
		MaxMS      *int64   `json:"max_ms,omitempty"`
		Jitter     *float64 `json:"jitter,omitempty"`
	}
	w := struct {
		MaxAttempts *int     `json:"max_attempts,omitempty"`
		Backoff     *backoff `json:"backoff,omitempty"`
		RetryOn     []string `json:"retry_on,omitempty"`
	}{MaxAttempts: s.MaxAttempts, RetryOn: s.RetryOn}
	if s.InitialMS != nil || s.Multiplier != nil || s.MaxMS != nil || s.Jitter != nil {
		w.Backoff = &backoff{s.InitialMS, s.Multiplier, s.MaxMS, s.Jitter}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the wire form with Parse's checks; errors name fields from "retry".
func (s *Spec) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p, err := Parse(v, "retry")
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// FieldError is an invalid policy field: Field is its path (params.retry.max_attempts).
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// FromParams reads a task's policy, params.retry (absent or null: an empty layer). Its
// error is a *FieldError naming the field under "params.retry": the first of
// FromParamsAll's problems.
func FromParams(params map[string]any) (Spec, error) {
	return Parse(params["retry"], "params.retry")
}

// FromParamsAll is FromParams with every problem of params.retry, in field order.
func FromParamsAll(params map[string]any) (Spec, []*FieldError) {
	return ParseAll(params["retry"], "params.retry")
}

// Parse reads one layer from decoded JSON (maps, slices, json.Number or float64
// numbers). field is the path of v in the caller's document, used in errors. nil (JSON
// null) is an empty layer. On error the layer is empty: nothing of an invalid policy
// applies. The error is a *FieldError, the first of ParseAll's problems.
func Parse(v any, field string) (Spec, error) {
	s, probs := ParseAll(v, field)
	if len(probs) > 0 {
		return Spec{}, probs[0]
	}
	return s, nil
}

// ParseAll is Parse with every problem, in field order; the layer is empty when there
// is one.
func ParseAll(v any, field string) (Spec, []*FieldError) {
	var p parser
	s := p.spec(v, field)
	if len(p.probs) > 0 {
		return Spec{}, p.probs
	}
	return s, nil
}

// parser collects the problems of a layer, going on past each one.
type parser struct{ probs []*FieldError }

func (p *parser) bad(err error) {
	p.probs = append(p.probs, err.(*FieldError))
}

func (p *parser) spec(v any, field string) Spec {
	var s Spec
	if v == nil {
		return s
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.bad(&FieldError{field, "must be an object"})
		return s
	}
	for _, k := range sortedKeys(m) {
		f := field + "." + k
		switch k {
		case "max_attempts":
			n, err := integer(m[k], f, 1, MaxAttemptsLimit)
			if err != nil {
				p.bad(err)
				continue
			}
			i := int(n)
			s.MaxAttempts = &i
		case "backoff":
			p.backoff(&s, m[k], f)
		case "retry_on":
			s.RetryOn = p.retryOn(m[k], f)
		default:
			p.bad(&FieldError{f, "unknown field (known: max_attempts, backoff, retry_on)"})
		}
	}
	return s
}

func (p *parser) backoff(s *Spec, v any, field string) {
	m, ok := v.(map[string]any)
	if !ok {
		p.bad(&FieldError{field, "must be an object"})
		return
	}
	for _, k := range sortedKeys(m) {
		f := field + "." + k
		switch k {
		case "initial_ms", "max_ms":
			n, err := integer(m[k], f, 0, MaxDelayMS)
			if err != nil {
				p.bad(err)
				continue
			}
			if k == "initial_ms" {
				s.InitialMS = &n
			} else {
				s.MaxMS = &n
			}
		case "multiplier":
			x, err := number(m[k], f, 1, MaxMultiplier)
			if err != nil {
				p.bad(err)
				continue
			}
			s.Multiplier = &x
		case "jitter":
			x, err := number(m[k], f, 0, 1)
			if err != nil {
				p.bad(err)
				continue
			}
			s.Jitter = &x
		default:
			p.bad(&FieldError{f, "unknown field (known: initial_ms, multiplier, max_ms, jitter)"})
		}
	}
	if s.InitialMS != nil && s.MaxMS != nil && *s.MaxMS < *s.InitialMS {
		p.bad(&FieldError{field + ".max_ms", fmt.Sprintf("%d is below initial_ms %d", *s.MaxMS, *s.InitialMS)})
	}
}

func (p *parser) retryOn(v any, field string) []string {
	list, ok := v.([]any)
	if !ok {
		p.bad(&FieldError{field, "must be an array of strings"})
		return nil
	}
	if len(list) == 0 || len(list) > maxRetryOn {
		p.bad(&FieldError{field, fmt.Sprintf("must list 1 to %d entries", maxRetryOn)})
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		str, ok := e.(string)
		if !ok {
			p.bad(&FieldError{f, "must be a string"})
			continue
		}
		if err := checkEntry(str); err != nil {
			p.bad(&FieldError{f, err.Error()})
			continue
		}
		out = append(out, str)
	}
	return out
}

// checkEntry checks one retry_on entry: a failure kind, code:<code> or match:<regexp>.
func checkEntry(e string) error {
	switch {
	case strings.HasPrefix(e, "code:"):
		if strings.TrimPrefix(e, "code:") == "" {
			return fmt.Errorf("code: needs a code, as in code:RATE_LIMITED")
		}
	case strings.HasPrefix(e, "match:"):
		p := strings.TrimPrefix(e, "match:")
		if p == "" || len(p) > maxPatternLen {
			return fmt.Errorf("match: needs a regular expression of 1 to %d bytes", maxPatternLen)
		}
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("match: %v", err)
		}
	default:
		switch Kind(e) {
		case KindTimeout, KindTrap, KindErrorResult, KindError:
		default:
			return fmt.Errorf("%q is not timeout, trap, error_result, error, code:<code> or match:<regexp>", e)
		}
	}
	return nil
}

func integer(v any, field string, lo, hi int64) (int64, error) {
	x, err := number(v, field, float64(lo), float64(hi))
	if err != nil {
		return 0, err
	}
	if x != math.Trunc(x) {
		return 0, &FieldError{field, fmt.Sprintf("must be a whole number, not %s", plain(x))}
	}
	return int64(x), nil
}

func number(v any, field string, lo, hi float64) (float64, error) {
	var x float64
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, &FieldError{field, fmt.Sprintf("%q is not a number", n.String())}
		}
		x = f
	case float64:
		x = n
	case int:
		x = float64(n)
	case int64:
		x = float64(n)
	default:
		return 0, &FieldError{field, "must be a number"}
	}
	if math.IsNaN(x) || x < lo || x > hi {
		return 0, &FieldError{field, fmt.Sprintf("%s is outside %s..%s", plain(x), plain(lo), plain(hi))}
	}
	return x, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Policy is a resolved policy: every field set.
type Policy struct {
	MaxAttempts int
	InitialMS   int64
	Multiplier  float64
	MaxMS       int64
	Jitter      float64
	RetryOn     []string
}

// Resolve merges layers, the first that sets a field winning (task, then executor,
// then operator), over the defaults. A policy that no layer sets allows one attempt.
// An initial_ms above the winning max_ms is capped by it.
func Resolve(layers ...Spec) Policy {
	p := Policy{MaxAttempts: 1, InitialMS: DefaultInitialMS, Multiplier: DefaultMultiplier,
		MaxMS: DefaultMaxMS, Jitter: DefaultJitter, RetryOn: DefaultRetryOn}
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		if l.MaxAttempts != nil {
			p.MaxAttempts = *l.MaxAttempts
		}
		if l.InitialMS != nil {
			p.InitialMS = *l.InitialMS
		}
		if l.Multiplier != nil {
			p.Multiplier = *l.Multiplier
		}
		if l.MaxMS != nil {
			p.MaxMS = *l.MaxMS
		}
		if l.Jitter != nil {
			p.Jitter = *l.Jitter
		}
		if l.RetryOn != nil {
			p.RetryOn = l.RetryOn
		}
	}
	p.InitialMS = min(p.InitialMS, p.MaxMS)
	return p
}

// Delay is the wait after failed attempt n (1 for the first attempt):
// initial_ms × multiplier^(n-1), capped at max_ms, then reduced by up to jitter of
// itself: by jitter × u, for u in [0, 1) drawn by the caller.
func (p Policy) Delay(n int, u float64) time.Duration {
	ms := float64(p.InitialMS) * math.Pow(p.Multiplier, float64(max(n-1, 0)))
	if ms > float64(p.MaxMS) || math.IsInf(ms, 0) || math.IsNaN(ms) {
		ms = float64(p.MaxMS)
	}
	u = min(max(u, 0), 1)
	ms *= 1 - p.Jitter*u
	return time.Duration(ms * float64(time.Millisecond))
}

// Retries reports whether the policy retries failure f (whatever attempt it was).
func (p Policy) Retries(f Failure) bool {
	if f.Kind == KindPermanent || f.Kind == "" {
		return false
	}
	for _, e := range p.RetryOn {
		switch {
		case strings.HasPrefix(e, "code:"):
			if f.Code != "" && f.Code == strings.TrimPrefix(e, "code:") {
				return true
			}
		case strings.HasPrefix(e, "match:"):
			re, err := regexp.Compile(strings.TrimPrefix(e, "match:"))
			if err == nil && re.MatchString(f.Message) {
				return true
			}
		default:
			if Kind(e) == f.Kind {
				return true
			}
		}
	}
	return false
}

// plain writes a number as a person would, never in exponent form: 604800000, 1.5.
func plain(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
