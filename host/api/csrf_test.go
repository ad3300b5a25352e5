package api

import (
	"net/http"
	"strings"
	"testing"
)

// A token carried by a cookie is sent by browsers on cross-site requests too, so a page
// on another site could otherwise make a logged-in user's browser create, run, cancel
// or delete tasks (a text/plain form can carry a JSON-RPC body). Unsafe cross-origin
// requests authenticated by a cookie are refused; the same request with the token in
// the Authorization header (which no other site can make a browser send) is served,
// and so is a same-origin or non-browser request with the cookie.
func TestCookieAuthRefusesCrossSiteRequests(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice := e.token(t, "alice")
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks.count"}`
	send := func(cookie, header string, hdr map[string]string) int {
		req, err := http.NewRequest(http.MethodPost, e.http.URL+"/tasks", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "auth_token", Value: cookie})
		}
		if header != "" {
			req.Header.Set("Authorization", "Bearer "+header)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	oldBrowser := map[string]string{"Origin": "https://evil.example"}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}
	for _, tc := range []struct {
		name           string
		cookie, header string
		hdr            map[string]string
		want           int
	}{
		{"cookie cross-site", alice, "", crossSite, http.StatusForbidden},
		{"cookie foreign origin", alice, "", oldBrowser, http.StatusForbidden},
		{"cookie same origin", alice, "", sameOrigin, http.StatusOK},
		{"cookie no browser headers", alice, "", nil, http.StatusOK},
		{"header cross-site", "", alice, crossSite, http.StatusOK},
	} {
		if got := send(tc.cookie, tc.header, tc.hdr); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
}
