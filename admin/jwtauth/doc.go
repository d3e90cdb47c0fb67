// Package jwtauth is the JWT bearer authentication backend for the asyncmq admin dashboard.
//
// A Backend admits a request when it carries a signed JSON Web Token in the Authorization
// header ("Authorization: Bearer <token>") or, when Config.CookieName is set, in a cookie. It
// maps the token's claims to an admin.User: "sub" is the user ID, "name" the display name,
// "is_admin" grants the admin role and "roles" lists further roles. Every claim name is
// configurable.
//
// The Verifier underneath is deliberately strict, because a dashboard that can retry, delete and
// pause jobs is a valuable target. Tokens are checked in this order, cheapest first, so that a
// forged or oversized token never reaches the expensive signature check:
//
//   - at most Config.MaxTokenSize bytes (8 KiB by default);
//   - compact serialization only: three base64url segments, no padding, no stray characters,
//     no non-canonical trailing bits;
//   - a header without duplicate members whose "alg" is in the allow list and is the one
//     algorithm the selected key is bound to ("none" is never accepted). The allow list comes from
//     the configuration and the keys, never from the token;
//   - no "crit" header; "jku", "x5u", "jwk" and "x5c" headers are ignored and never fetched;
//   - "kid" is only ever a map lookup;
//   - the signature (RSA-PSS with salt length equal to the hash, ECDSA in the fixed-size
//     R||S form, RSA keys of at least 2048 bits, HMAC secrets at least as long as the hash);
//   - claims without duplicate members, read by exact name (so "SUB" cannot stand in for "sub"),
//     with strict types: "exp" is required by default, "nbf" and "iat" are checked with the
//     configured leeway, "aud" may be a string or an array, "iss" must match exactly and the user
//     claim must be a non-empty string.
//
// Keys come from exactly one source: a shared secret (HS256, HS384, HS512), one PEM public key
// or crypto.PublicKey (RS*, PS*, ES*, EdDSA), or a JWKS URL that is refreshed in the background.
//
// Successful verifications are cached for at most a minute (never beyond the token's expiry),
// keyed by the SHA-256 of the token, so a dashboard that polls does not pay for a signature check
// on every request.
//
// Issue, GenerateKey, GenerateSecret, PublicJWKS and the PEM helpers let an application or the
// asyncmq command mint tokens for its operators and publish the matching public keys.
package jwtauth
