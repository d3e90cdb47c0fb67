package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/users"
)

var secret = []byte("example-secret-of-at-least-32-bytes!!")

// setup starts the example on a free port with a fresh users file, and returns its base URL and
// a second connection to that file for the test to change users behind the server's back.
func setup(t *testing.T) (string, *users.SQLStore) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "users.db")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", db, secret, io.Discard, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30s")
	}
	store, err := users.OpenSQL(context.Background(), "sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return base, store
}

func getAs(t *testing.T, url, sub string) (int, string, string) {
	t.Helper()
	tok, err := jwtauth.Issue(jwtauth.IssueParams{Subject: sub, Audience: audience, Issuer: issuer, TTL: time.Minute}, "HS256", secret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

func TestJWTDBExample(t *testing.T) {
	t.Parallel()
	base, store := setup(t)
	url := base + "/asyncmq/"

	tests := []struct {
		sub        string
		wantStatus int
		wantBody   string
	}{
		{sub: "alice", wantStatus: http.StatusOK, wantBody: "Dashboard"},
		{sub: "bob", wantStatus: http.StatusForbidden, wantBody: "Dashboard user is not authorized"},
		{sub: "carol", wantStatus: http.StatusSeeOther},
		{sub: "mallory", wantStatus: http.StatusSeeOther},
	}
	for _, tt := range tests {
		status, loc, body := getAs(t, url, tt.sub)
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Fatalf("token for %s: %d %.120q, want %d containing %q", tt.sub, status, body, tt.wantStatus, tt.wantBody)
		}
		if status == http.StatusSeeOther && loc != "/asyncmq/login?next=/asyncmq/" {
			t.Fatalf("token for %s: Location %q", tt.sub, loc)
		}
	}

	// Disabling alice in the table refuses her very next request.
	if err := store.SetActive(context.Background(), "alice", false); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := getAs(t, url, "alice"); status != http.StatusSeeOther {
		t.Fatalf("disabled alice: %d, want 303", status)
	}
}
