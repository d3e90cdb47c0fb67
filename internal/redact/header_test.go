package redact

import (
	"maps"
	"testing"
)

func TestIsSecretHeader(t *testing.T) {
	t.Parallel()
	secret := []string{"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Auth-Token", "token",
		"access_token", "X-API-Key", "api_key", "apikey", "client.secret", "SECRET", "password", "db_passwd",
		"pwd", "aws-credentials", "session-id", "X-Amz-Signature", "private_key", "x-access-key-id", "Author"}
	shown := []string{"traceparent", "tracestate", "baggage", "tenant", "request-id", "X-Request-ID",
		"idempotency-key", "content-type", "user", "x.y", "monkey"}
	for _, n := range secret {
		if !IsSecretHeader(n) {
			t.Errorf("IsSecretHeader(%q) = false, want true", n)
		}
	}
	for _, n := range shown {
		if IsSecretHeader(n) {
			t.Errorf("IsSecretHeader(%q) = true, want false", n)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	if got := Headers(nil); got != nil {
		t.Errorf("Headers(nil) = %v", got)
	}
	in := map[string]string{"Authorization": "Bearer abc", "tenant": "acme", "x-api-key": "k"}
	got := Headers(in)
	want := map[string]string{"Authorization": Redacted, "tenant": "acme", "x-api-key": Redacted}
	if !maps.Equal(got, want) {
		t.Errorf("Headers = %v, want %v", got, want)
	}
	if in["Authorization"] != "Bearer abc" {
		t.Errorf("Headers changed its argument: %v", in)
	}
}
