// Package auth is the bearer-token authentication of the apflow API: HS256 JWTs whose
// "sub" claim is the user and whose "roles" (list) or "role" (string) claim may grant
// "admin".
//
// Guarantees: verification fails closed. A token is accepted only if it is signed with
// HS256 by the configured secret, has a non-empty "sub", has an "exp" in the future (and
// "nbf"/"iat" not in the future), and is otherwise well formed; everything else is
// rejected with ErrUnauthorized. There is no anonymous or "no sub means superuser" path.
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AdminRole is the role that lets a user see and act on every user's tasks.
const AdminRole = "admin"

// ErrUnauthorized is wrapped by every verification failure.
var ErrUnauthorized = errors.New("unauthorized")

// Identity is an authenticated caller.
type Identity struct {
	// Subject is the "sub" claim: the user id stamped on and matched against tasks.
	Subject string
	// Roles are the role claims ("roles" list and/or "role" string).
	Roles []string
}

// Admin reports whether the identity has the admin role.
func (id Identity) Admin() bool {
	for _, r := range id.Roles {
		if r == AdminRole {
			return true
		}
	}
	return false
}

// claims is the token payload.
type claims struct {
	Roles []string `json:"roles,omitempty"`
	Role  string   `json:"role,omitempty"`
	jwt.RegisteredClaims
}

// MintOptions describe a token to mint.
type MintOptions struct {
	// Subject is the user id (required).
	Subject string
	// Roles are put in the "roles" claim, e.g. []string{"admin"}.
	Roles []string
	// TTL is the lifetime; it must be positive (tokens always expire).
	TTL time.Duration
	// Now is the issue time; zero means time.Now().
	Now time.Time
	// Issuer is the optional "iss" claim.
	Issuer string
}

// Mint returns an HS256 token signed with secret.
func Mint(secret []byte, o MintOptions) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: mint: empty secret")
	}
	if o.Subject == "" {
		return "", errors.New("auth: mint: a token needs a subject (sub)")
	}
	if o.TTL <= 0 {
		return "", fmt.Errorf("auth: mint: ttl must be positive, got %s", o.TTL)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := claims{Roles: o.Roles, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   o.Subject,
		Issuer:    o.Issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(o.TTL)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}

// Verifier checks tokens against one secret.
type Verifier struct {
	secret []byte
	now    func() time.Time
}

// NewVerifier returns a verifier for HS256 tokens signed with secret. now may be nil
// (time.Now).
func NewVerifier(secret []byte, now func() time.Time) (*Verifier, error) {
	if len(secret) == 0 {
		return nil, errors.New("auth: empty JWT secret")
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{secret: append([]byte(nil), secret...), now: now}, nil
}

// Verify parses and checks a token and returns the caller's identity.
func (v *Verifier) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: token has no subject (sub)", ErrUnauthorized)
	}
	roles := append([]string(nil), c.Roles...)
	if c.Role != "" {
		roles = append(roles, c.Role)
	}
	return Identity{Subject: c.Subject, Roles: roles}, nil
}

// TokenFromRequest extracts the token: the Authorization header ("Bearer <t>" or a bare
// token), else the "authorization" or "auth_token" cookie (the reference's spellings).
func TokenFromRequest(r *http.Request) string {
	if h := strings.TrimSpace(r.Header.Get("Authorization")); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return h
	}
	for _, name := range []string{"authorization", "auth_token"} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			v := c.Value
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				v = v[7:]
			}
			return v
		}
	}
	return ""
}
