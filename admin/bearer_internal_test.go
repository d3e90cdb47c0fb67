package admin

import (
	"net/http/httptest"
	"testing"
)

func TestBearerClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hdr  []string
		want bool
	}{
		{"script with a bearer token", []string{"Authorization", "Bearer abc"}, true},
		{"scheme in any case", []string{"Authorization", "bearer abc"}, true},
		{"no token", []string{"Authorization", "Bearer "}, false},
		{"basic auth", []string{"Authorization", "Basic abc"}, false},
		{"nothing", nil, false},
		{"a browser sends Origin", []string{"Authorization", "Bearer abc", "Origin", "https://evil.example"}, false},
		{"a browser sends Sec-Fetch-Site", []string{"Authorization", "Bearer abc", "Sec-Fetch-Site", "cross-site"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/asyncmq/api/v1/queues/q/pause", nil)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				r.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			if got := bearerClient(r); got != tt.want {
				t.Errorf("bearerClient = %v, want %v", got, tt.want)
			}
		})
	}
}
