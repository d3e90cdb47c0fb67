package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/asyncmq/asyncmq/admin"
)

// Limits on the callback's query. Providers send codes of a few hundred bytes; the state is
// ours and 26 characters long.
const (
	maxQuery       = 8 << 10
	maxState       = 256
	maxCode        = 4 << 10
	maxErrorCode   = 256
	maxDescription = 1 << 10
)

// callbackParams is the provider's answer as the callback's query carries it.
type callbackParams struct {
	Code, State, Issuer     string
	Error, ErrorDescription string
}

var errBadCallback = errors.New("malformed callback query")

// parseCallback reads the callback's raw query. It refuses a query that does not parse, that
// repeats a parameter, that has no state, that has neither a code nor an error, or whose values
// are too long or hold control characters.
func parseCallback(rawQuery string) (callbackParams, error) {
	if len(rawQuery) > maxQuery {
		return callbackParams{}, fmt.Errorf("%w: longer than %d bytes", errBadCallback, maxQuery)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return callbackParams{}, fmt.Errorf("%w: %w", errBadCallback, err)
	}
	var p callbackParams
	for _, f := range []struct {
		name  string
		max   int
		value *string
	}{
		{"code", maxCode, &p.Code},
		{"state", maxState, &p.State},
		{"iss", maxState, &p.Issuer},
		{"error", maxErrorCode, &p.Error},
		{"error_description", maxDescription, &p.ErrorDescription},
	} {
		vs := q[f.name]
		switch {
		case len(vs) > 1:
			return callbackParams{}, fmt.Errorf("%w: %s given %d times", errBadCallback, f.name, len(vs))
		case len(vs) == 0:
			continue
		case len(vs[0]) > f.max:
			return callbackParams{}, fmt.Errorf("%w: %s longer than %d bytes", errBadCallback, f.name, f.max)
		case strings.ContainsFunc(vs[0], func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return callbackParams{}, fmt.Errorf("%w: %s holds control characters", errBadCallback, f.name)
		}
		*f.value = vs[0]
	}
	if p.State == "" {
		return callbackParams{}, fmt.Errorf("%w: no state", errBadCallback)
	}
	if p.Code == "" && p.Error == "" {
		return callbackParams{}, fmt.Errorf("%w: neither code nor error", errBadCallback)
	}
	return p, nil
}

// callback finishes a sign-in at GET CallbackPath. Refusals render the login page: 400 for a
// malformed query or a state this session did not start (missing, mismatched, expired, or used
// already, as by a replayed code), 401 when the provider reports an error, refuses the code, or
// returns an ID token that fails verification or carries another nonce, 503 when the provider
// cannot be reached, 405 for HEAD (which must not spend a state). A verified user whom the
// rules do not admit gets 403 with the gate's body.
// An admitted user gets a renewed session and a 303 to where the sign-in started.
func (b *Backend) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet {
		// The route's GET pattern also matches HEAD, which must not spend a sign-in's state.
		w.Header().Set("Allow", "GET")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	sess := admin.SessionFromRequest(r)
	if sess == nil {
		b.log.ErrorContext(ctx, "oidcauth: callback without a session; enable admin.Config.IncludeSession")
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, "")
		return
	}
	p, err := parseCallback(r.URL.RawQuery)
	if err != nil {
		b.log.InfoContext(ctx, "oidcauth: callback refused", "err", err)
		b.renderLogin(w, r, http.StatusBadRequest, msgBadAnswer, "")
		return
	}
	pend, ok := takePending(sess, p.State)
	if !ok {
		b.log.InfoContext(ctx, "oidcauth: callback refused: state unknown to this session (missing, mismatched, expired or used)")
		b.renderLogin(w, r, http.StatusBadRequest, msgUnknown, "")
		return
	}
	// RFC 9207: a provider that names itself must name the issuer we sent the browser to.
	if p.Issuer != "" && p.Issuer != b.s.Issuer {
		b.log.InfoContext(ctx, "oidcauth: callback refused: iss names another provider", "iss", p.Issuer)
		b.renderLogin(w, r, http.StatusBadRequest, msgBadAnswer, pend.Next)
		return
	}
	if p.Error != "" {
		b.log.InfoContext(ctx, "oidcauth: provider refused the sign-in", "error", p.Error, "description", p.ErrorDescription)
		b.renderLogin(w, r, http.StatusUnauthorized, msgRefused, pend.Next)
		return
	}

	xctx := context.WithValue(ctx, oauth2.HTTPClient, b.s.HTTPClient)
	tok, err := b.oauth.Exchange(xctx, p.Code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			b.log.InfoContext(ctx, "oidcauth: provider refused the code", "error", re.ErrorCode, "status", re.Response.StatusCode)
			b.renderLogin(w, r, http.StatusUnauthorized, msgRefused, pend.Next)
			return
		}
		b.log.ErrorContext(ctx, "oidcauth: exchange code", "err", err)
		w.Header().Set("Retry-After", "5")
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnreachable, pend.Next)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	vt, err := b.verifyIDToken(ctx, raw)
	if err == nil && !sameString(vt.nonce, pend.Nonce) {
		err = fmt.Errorf("%w: nonce does not match the sign-in's", errIDToken)
	}
	if err != nil {
		b.log.WarnContext(ctx, "oidcauth: sign-in refused", "err", err)
		b.renderLogin(w, r, http.StatusUnauthorized, msgRefused, pend.Next)
		return
	}

	d := b.s.decide(vt.claims)
	if !d.admit {
		sess.Remove(sessionUserKey)
		b.log.InfoContext(ctx, "oidcauth: sign-in denied", "user", d.user.ID, "email", d.user.Email, "reason", d.reason)
		b.audit(ctx, d, "denied")
		admin.WriteNotAuthorized(w)
		return
	}
	// A new session ID at the privilege change, so a session ID planted before sign-in is
	// worthless after it.
	if err := sess.RenewToken(); err != nil {
		b.log.ErrorContext(ctx, "oidcauth: sign-in: renew session", "user", d.user.ID, "err", err)
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, pend.Next)
		return
	}
	now := time.Now()
	st := signedIn{
		Subject:      d.user.ID,
		Name:         d.user.Name,
		Email:        d.user.Email,
		Roles:        d.user.Roles,
		SignedInAt:   now,
		Expiry:       vt.expiry,
		RefreshToken: tok.RefreshToken,
		IDToken:      raw,
	}
	if limit := now.Add(b.s.MaxSessionLifetime); st.Expiry.After(limit) {
		st.Expiry = limit
	}
	enc, err := json.Marshal(st)
	if err != nil {
		b.renderLogin(w, r, http.StatusInternalServerError, msgUnavailable, pend.Next)
		return
	}
	sess.PutString(sessionUserKey, string(enc))
	b.log.InfoContext(ctx, "oidcauth: signed in", "user", d.user.ID, "email", d.user.Email, "roles", d.user.Roles)
	b.audit(ctx, d, "success")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, admin.SafeRedirect(r, pend.Next), http.StatusSeeOther)
}

// audit tells Config.Audit of a sign-in.
func (b *Backend) audit(ctx context.Context, d decision, status string) {
	if b.s.Audit == nil {
		return
	}
	detail := d.reason
	if d.user.Email != "" {
		detail = d.user.Email + ": " + detail
	}
	actor := d.user.ID
	if actor == "" {
		actor = "unknown"
	}
	b.s.Audit(ctx, AuditEvent{Actor: actor, Action: "auth.login", Status: status, Detail: detail})
}
