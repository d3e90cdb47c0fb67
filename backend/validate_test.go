package backend_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func TestValidateHeaders(t *testing.T) {
	t.Parallel()
	many := func(n, size int) map[string]string {
		h := make(map[string]string, n)
		for i := range n {
			h["k"+strconv.Itoa(i)] = strings.Repeat("v", size)
		}
		return h
	}
	tests := []struct {
		name    string
		h       map[string]string
		mention string // "" means valid
	}{
		{"nil", nil, ""},
		{"empty", map[string]string{}, ""},
		{"traceparent", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, ""},
		{"every name byte", map[string]string{"Az09-_.": "x"}, ""},
		{"empty value", map[string]string{"k": ""}, ""},
		{"unicode value", map[string]string{"k": "héllo wörld ✓"}, ""},
		{"32 headers", many(32, 1), ""},
		{"33 headers", many(33, 1), "33 headers"},
		{"empty name", map[string]string{"": "x"}, "empty name"},
		{"128-byte name", map[string]string{strings.Repeat("a", 128): "x"}, ""},
		{"129-byte name", map[string]string{strings.Repeat("a", 129): "x"}, "longer than 128"},
		{"space in name", map[string]string{"bad name": "x"}, `"bad name"`},
		{"colon in name", map[string]string{"a:b": "x"}, `"a:b"`},
		{"non-ASCII name", map[string]string{"é": "x"}, `"é"`},
		{"8192-byte value", map[string]string{"k": strings.Repeat("v", 8192)}, ""},
		{"8193-byte value", map[string]string{"big": strings.Repeat("v", 8193)}, `"big"`},
		{"invalid UTF-8", map[string]string{"bin": "a\xffb"}, `"bin"`},
		{"newline", map[string]string{"nl": "a\nb"}, `"nl"`},
		{"DEL", map[string]string{"del": "a\x7fb"}, `"del"`},
		{"C1 control", map[string]string{"c1": "a\u0085b"}, `"c1"`},
		{"16 KiB in total", map[string]string{"a": strings.Repeat("v", 8191), "b": strings.Repeat("v", 8191)}, ""},
		{"over 16 KiB in total", many(3, 8000), "16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := backend.ValidateHeaders(tt.h)
			if tt.mention == "" {
				if err != nil {
					t.Fatalf("ValidateHeaders: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("ValidateHeaders: %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("ValidateHeaders: %q does not mention %q", err, tt.mention)
			}
		})
	}
}

// TestEnqueueValidatesHeaders checks that the rule is part of every enqueue and names the job.
func TestEnqueueValidatesHeaders(t *testing.T) {
	t.Parallel()
	p := backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{{
		ID: "j1", Queue: "default", Task: "t", Headers: map[string]string{"bad key": "v"},
	}}}
	err := p.Validate()
	if !errors.Is(err, asyncmqtype.ErrInvalid) || !strings.Contains(err.Error(), `"j1"`) || !strings.Contains(err.Error(), `"bad key"`) {
		t.Fatalf("Validate: %v, want ErrInvalid naming job j1 and header \"bad key\"", err)
	}
}

// Fresh, when set, must have an entry per job (a store indexes it by the job's place), and only
// beside a false FreshIDs.
func TestEnqueueValidatesFresh(t *testing.T) {
	t.Parallel()
	jobs := []*asyncmqtype.JobInfo{{ID: "j1", Queue: "default", Task: "t"}, {ID: "j2", Queue: "default", Task: "t"}}
	if err := (backend.EnqueueParams{Jobs: jobs, Fresh: []bool{true}}).Validate(); !errors.Is(err, asyncmqtype.ErrInvalid) {
		t.Fatalf("Validate with 1 Fresh entry for 2 jobs: %v, want ErrInvalid", err)
	}
	if err := (backend.EnqueueParams{Jobs: jobs, Fresh: []bool{true, false}, FreshIDs: true}).Validate(); !errors.Is(err, asyncmqtype.ErrInvalid) {
		t.Fatalf("Validate with Fresh and FreshIDs: %v, want ErrInvalid", err)
	}
	if err := (backend.EnqueueParams{Jobs: jobs, Fresh: []bool{true, false}}).Validate(); err != nil {
		t.Fatalf("Validate with a Fresh entry per job: %v", err)
	}
}

// FuzzValidateHeaders checks that headers come from untrusted input (the CLI, the JSON API)
// safely: the check never panics, and whatever it accepts keeps to the documented limits and
// survives the JSON encoding every store uses unchanged.
func FuzzValidateHeaders(f *testing.F) {
	f.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate", "k=v")
	f.Add("", "", "a b", "\n")
	f.Add("k", "\xff", "é", "\u0085")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := map[string]string{k1: v1, k2: v2}
		err := backend.ValidateHeaders(h)
		if err != nil {
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		total := 0
		for k, v := range h {
			total += len(k) + len(v)
			if k == "" || len(k) > backend.MaxHeaderKey || len(v) > backend.MaxHeaderValue || !utf8.ValidString(v) {
				t.Fatalf("accepted header %q=%q", k, v)
			}
			for _, c := range k {
				if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("-_.", c)) {
					t.Fatalf("accepted name %q", k)
				}
			}
			if strings.IndexFunc(v, unicode.IsControl) >= 0 {
				t.Fatalf("accepted value %q", v)
			}
		}
		if total > backend.MaxHeadersSize {
			t.Fatalf("accepted %d bytes", total)
		}
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("marshal accepted headers: %v", err)
		}
		var back map[string]string
		if err := json.Unmarshal(raw, &back); err != nil || !maps.Equal(back, h) {
			t.Fatalf("headers %q came back from JSON as %q (%v)", h, back, err)
		}
	})
}
