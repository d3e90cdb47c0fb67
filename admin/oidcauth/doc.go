// Package oidcauth is an admin.AuthBackend that signs dashboard users in with an OpenID Connect
// provider (Okta, Entra ID, Google, Keycloak, Dex, GitLab …): the authorization code flow with
// PKCE (S256), state and nonce, the provider found by discovery from its issuer URL.
//
// The flow, under the admin's prefix:
//
//   - GET <login> shows a "Sign in with <provider>" button; pressing it POSTs to the same page
//     (a same-origin POST, so a foreign page cannot start a sign-in), which stores a fresh
//     state, nonce and PKCE verifier in the session and sends the browser to the provider.
//   - GET /oidc/callback takes the provider's answer: it refuses a missing or unknown state, a
//     state already used (so a replayed code goes nowhere), an exchange the provider refuses,
//     and an ID token that is unsigned, signed by another key or with an algorithm outside the
//     allow list, issued by another issuer, for another client ("aud", "azp"), expired, or
//     carrying another nonce. The signature rules are jwtauth's: an algorithm allow list that
//     never holds "none" or an HMAC algorithm, RSA keys of at least 2048 bits.
//   - The user is then admitted or refused by Config.AllowedDomains, Config.AllowedGroups,
//     Config.RequiredClaim and the roles read from Config.RolesClaim; a refused user gets 403
//     with the gate's body, and every sign-in, admitted or refused, is passed to Config.Audit.
//   - The session (the admin's scs session, renewed at sign-in) lasts until the ID token
//     expires, never beyond Config.MaxSessionLifetime after sign-in. When the provider granted a
//     refresh token, an expired session is renewed silently; when the provider refuses, the
//     session ends.
//   - POST /logout destroys the session and, when the provider advertises an
//     end_session_endpoint, continues there (RP-initiated logout) with a return to the login page.
//
// Both hand-overs to the provider answer the form with a page carrying a "Refresh: 0; url=…"
// header rather than a redirect, because the admin's Content-Security-Policy (form-action
// 'self') makes browsers refuse a form submission that redirects to another origin.
//
// The backend needs the admin's sessions (admin.Config.IncludeSession, on by default).
package oidcauth
