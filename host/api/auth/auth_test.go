package auth

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func setup(t *testing.T) (*Verifier, []byte, time.Time) {
	t.Helper()
	secret := []byte("test-secret-0123456789")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v, err := NewVerifier(secret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return v, secret, now
}

func TestVerify(t *testing.T) {
	t.Parallel()
	v, secret, now := setup(t)
	mint := func(o MintOptions) string {
		t.Helper()
		if o.Now.IsZero() {
			o.Now = now
		}
		s, err := Mint(secret, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	raw := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name  string
		token string
		sub   string
		admin bool
	}{
		{"user", mint(MintOptions{Subject: "alice", TTL: time.Hour}), "alice", false},
		{"admin roles", mint(MintOptions{Subject: "root", Roles: []string{"admin"}, TTL: time.Hour}), "root", true},
		{"admin role string", raw(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "r", "role": "admin", "exp": exp}), "r", true},
		{"empty", "", "", false},
		{"garbage", "not.a.token", "", false},
		{"expired", mint(MintOptions{Subject: "alice", TTL: time.Minute, Now: now.Add(-time.Hour)}), "", false},
		{"no exp", raw(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice"}), "", false},
		{"no sub", raw(jwt.SigningMethodHS256, secret, jwt.MapClaims{"user_id": "alice", "exp": exp}), "", false},
		{"forged", raw(jwt.SigningMethodHS256, []byte("other-secret"), jwt.MapClaims{"sub": "alice", "exp": exp}), "", false},
		{"hs512 refused", raw(jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "alice", "exp": exp}), "", false},
		{"alg none", raw(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "alice", "exp": exp}), "", false},
		{"issued in future", raw(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": exp, "iat": now.Add(time.Minute * 30).Unix()}), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := v.Verify(tt.token)
			if tt.sub == "" {
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("Verify = %+v, %v; want ErrUnauthorized", id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != tt.sub || id.Admin() != tt.admin {
				t.Fatalf("identity = %+v (admin %v), want %s admin %v", id, id.Admin(), tt.sub, tt.admin)
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		secret []byte
		o      MintOptions
	}{
		{"no secret", nil, MintOptions{Subject: "a", TTL: time.Hour}},
		{"no subject", []byte("s"), MintOptions{TTL: time.Hour}},
		{"no ttl", []byte("s"), MintOptions{Subject: "a"}},
	} {
		if _, err := Mint(tt.secret, tt.o); err == nil {
			t.Errorf("%s: Mint succeeded", tt.name)
		}
	}
	if _, err := NewVerifier(nil, nil); err == nil {
		t.Error("NewVerifier(nil) succeeded")
	}
}

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		cookie string
		value  string
		want   string
	}{
		{"bearer", "Bearer abc", "", "", "abc"},
		{"lowercase bearer", "bearer abc", "", "", "abc"},
		{"bare", "abc", "", "", "abc"},
		{"cookie", "", "auth_token", "xyz", "xyz"},
		{"cookie bearer", "", "authorization", "Bearer xyz", "xyz"},
		{"none", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie+"="+tt.value)
			}
			if got := TokenFromRequest(r); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
