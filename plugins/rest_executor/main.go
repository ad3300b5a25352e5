// Command rest_executor is the rest_executor: one HTTP request through the host's http
// capability, with the inputs and result shape of the Python apflow rest_executor.
//
// The host decides which hosts the plugin may reach (the operator's http grant), follows
// redirects only to granted hosts and caps the response size; this executor only builds
// the request and interprets the response. As in the reference, a non-2xx status is a
// completed task with success false, unless fail_on_status is set.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// Auth configures request authentication. Secrets may come from the plugin's config
// grants instead of the task inputs: token_config, password_config and value_config name
// config keys read with the config capability.
type Auth struct {
	Type           string `json:"type" jsonschema:"required,enum=bearer|basic|apikey"`
	Token          string `json:"token,omitempty" description:"bearer: the token."`
	TokenConfig    string `json:"token_config,omitempty" description:"bearer: config key holding the token."`
	Username       string `json:"username,omitempty" description:"basic: the user name."`
	Password       string `json:"password,omitempty" description:"basic: the password."`
	PasswordConfig string `json:"password_config,omitempty" description:"basic: config key holding the password."`
	Key            string `json:"key,omitempty" description:"apikey: header or query parameter name (default X-API-Key)."`
	Value          string `json:"value,omitempty" description:"apikey: the key."`
	ValueConfig    string `json:"value_config,omitempty" description:"apikey: config key holding the key."`
	Location       string `json:"location,omitempty" jsonschema:"enum=header|query,default=header"`
}

// In are the executor's inputs.
type In struct {
	URL          string            `json:"url" jsonschema:"required,minLength=1" description:"http or https URL."`
	Method       string            `json:"method,omitempty" jsonschema:"enum=GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS,default=GET"`
	Headers      map[string]string `json:"headers,omitempty"`
	Params       map[string]any    `json:"params,omitempty" description:"Query parameters added to the URL."`
	JSON         any               `json:"json,omitempty" description:"A JSON body (sets Content-Type: application/json)."`
	Data         any               `json:"data,omitempty" description:"A form body: an object (form-encoded) or a string (sent as is)."`
	Body         string            `json:"body,omitempty" description:"A raw body, sent as is."`
	Auth         *Auth             `json:"auth,omitempty"`
	Timeout      float64           `json:"timeout,omitempty" jsonschema:"exclusiveMinimum=0,maximum=3600,default=30" description:"Seconds."`
	FailOnStatus bool              `json:"fail_on_status,omitempty" description:"Fail the task on a non-2xx status instead of returning success false."`
}

// Out is the executor's result: json when the response is JSON, text otherwise.
type Out struct {
	Success    bool              `json:"success"`
	StatusCode int               `json:"status_code"`
	URL        string            `json:"url"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	JSON       any               `json:"json,omitempty"`
	Text       *string           `json:"text,omitempty"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "rest_executor",
		Name:         "REST request",
		Description:  "Performs an HTTP request through the host (http grant required); JSON responses are decoded.",
		Version:      "1.0.0",
		Tags:         []string{"http"},
		Capabilities: []string{"http", "config"},
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	req, err := build(ctx, in)
	if err != nil {
		return Out{}, err
	}
	ctx.Log.Debug("request", "method", req.Method, "url", req.URL)
	ctx.Progress(0.1)
	resp, err := ctx.HTTP(req)
	if err != nil {
		return Out{}, err
	}
	ctx.Progress(1)
	out := Out{
		Success: resp.Status >= 200 && resp.Status < 300, StatusCode: resp.Status,
		URL: req.URL, Method: req.Method, Headers: resp.Headers,
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	var decoded any
	if isJSON(resp.Header("Content-Type")) && json.Unmarshal([]byte(resp.Body), &decoded) == nil && decoded != nil {
		out.JSON = decoded
	} else {
		body := resp.Body
		out.Text = &body // not JSON, or JSON that does not decode: keep the text
	}
	if in.FailOnStatus && !out.Success {
		return Out{}, apflow.NewError("http_status", fmt.Sprintf("%s %s: HTTP %d", req.Method, req.URL, resp.Status),
			map[string]any{"status_code": resp.Status, "body": truncate(resp.Body, 2048)})
	}
	return out, nil
}

func build(ctx *apflow.Context, in In) (apflow.HTTPRequest, error) {
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apflow.HTTPRequest{}, apflow.NewError("invalid_url", fmt.Sprintf("url %q is not an absolute http or https URL", in.URL), map[string]any{"field": "url"})
	}
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = "GET"
	}
	headers := map[string]string{}
	for k, v := range in.Headers {
		headers[k] = v
	}
	q := u.Query()
	keys := make([]string, 0, len(in.Params))
	for k := range in.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := in.Params[k].(type) {
		case []any:
			for _, e := range v {
				q.Add(k, scalar(e))
			}
		default:
			q.Set(k, scalar(v))
		}
	}
	var body string
	bodies := 0
	switch {
	case in.JSON != nil:
		bodies++
		b, err := json.Marshal(in.JSON)
		if err != nil {
			return apflow.HTTPRequest{}, fmt.Errorf("encode json body: %w", err)
		}
		body = string(b)
		setDefault(headers, "Content-Type", "application/json")
	}
	if in.Data != nil {
		bodies++
		switch d := in.Data.(type) {
		case string:
			body = d
		case map[string]any:
			form := url.Values{}
			for k, v := range d {
				form.Set(k, scalar(v))
			}
			body = form.Encode()
			setDefault(headers, "Content-Type", "application/x-www-form-urlencoded")
		default:
			return apflow.HTTPRequest{}, apflow.NewError("invalid_inputs", "data must be an object or a string", map[string]any{"field": "data"})
		}
	}
	if in.Body != "" {
		bodies++
		body = in.Body
	}
	if bodies > 1 {
		return apflow.HTTPRequest{}, apflow.NewError("invalid_inputs", "give at most one of json, data and body", nil)
	}
	if in.Auth != nil {
		if err := applyAuth(ctx, in.Auth, headers, q); err != nil {
			return apflow.HTTPRequest{}, err
		}
	}
	u.RawQuery = q.Encode()
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = 30
	}
	return apflow.HTTPRequest{Method: method, URL: u.String(), Headers: headers, Body: body, TimeoutMS: int64(timeout * 1000)}, nil
}

func applyAuth(ctx *apflow.Context, a *Auth, headers map[string]string, q url.Values) error {
	secret := func(literal, key, field string) (string, error) {
		if key == "" {
			return literal, nil
		}
		v, ok := ctx.Config(key)
		if !ok {
			return "", apflow.NewError("missing_secret", fmt.Sprintf("auth.%s: config key %q is not granted to rest_executor or not set", field, key),
				map[string]any{"field": "auth." + field})
		}
		return v, nil
	}
	switch a.Type {
	case "bearer":
		tok, err := secret(a.Token, a.TokenConfig, "token_config")
		if err != nil {
			return err
		}
		headers["Authorization"] = "Bearer " + tok
	case "basic":
		pw, err := secret(a.Password, a.PasswordConfig, "password_config")
		if err != nil {
			return err
		}
		headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+pw))
	case "apikey":
		v, err := secret(a.Value, a.ValueConfig, "value_config")
		if err != nil {
			return err
		}
		key := a.Key
		if key == "" {
			key = "X-API-Key"
		}
		if a.Location == "query" {
			q.Set(key, v)
		} else {
			headers[key] = v
		}
	default:
		return apflow.NewError("invalid_inputs", fmt.Sprintf("auth.type %q: want bearer, basic or apikey", a.Type), map[string]any{"field": "auth.type"})
	}
	return nil
}

func setDefault(h map[string]string, key, value string) {
	for k := range h {
		if strings.EqualFold(k, key) {
			return
		}
	}
	h[key] = value
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func isJSON(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
