package cli

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// ParseQueues parses a worker's queue list, "critical=10,default=5": queue name = concurrency.
// A name without "=N" gets def. Names must be unique and concurrencies positive.
func ParseQueues(spec string, def int) (map[string]int, error) {
	out := make(map[string]int)
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, hasN := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("%q: empty queue name", part)
		}
		c := def
		if hasN {
			v, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("%q: concurrency must be a positive whole number", part)
			}
			c = v
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("queue %q listed twice", name)
		}
		out[name] = c
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no queue named")
	}
	return out, nil
}

// FormatQueues is the inverse of ParseQueues, sorted by name, for logs.
func FormatQueues(qs map[string]int) string {
	names := make([]string, 0, len(qs))
	for n := range qs {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, qs[n])
	}
	return strings.Join(parts, ",")
}

// NewLogger returns a text logger on w at the named level: debug, info, warn or error.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
