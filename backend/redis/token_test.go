package redis

import "testing"

// Tokens name their job's queue; tokens of earlier versions, which jobs started by them still
// hold, must keep naming it, or their workers could not finish those jobs.
func TestQueueOfToken(t *testing.T) {
	prefix := tokenPrefix()
	tests := []struct {
		token, queue string
		ok           bool
	}{
		{leaseToken(prefix, "emails", "019aef12-3456-7abc-8def-000000000001"), "emails", true},
		{leaseToken(prefix, "a:b", "id/with:colons"), "a:b", true},
		{prefix + "12:emails", "emails", true}, // earlier versions: a counter, then the queue
		{prefix + "3:a:b", "a:b", true},
		{prefix + ":/id", "", false},
		{prefix + "7", "", false},
		{"short:q", "", false},
	}
	for _, tt := range tests {
		q, ok := queueOfToken(tt.token)
		if q != tt.queue || ok != tt.ok {
			t.Errorf("queueOfToken(%q) = %q, %v; want %q, %v", tt.token, q, ok, tt.queue, tt.ok)
		}
	}
}
