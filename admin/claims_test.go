package admin_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestTruthy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		want bool
	}{
		{`true`, true},
		{`false`, false},
		{`"true"`, true},
		{`" TRUE "`, true},
		{`"1"`, true},
		{`"yes"`, true},
		{`"On"`, true},
		{`"false"`, false},
		{`"0"`, false},
		{`"y"`, false},
		{`""`, false},
		{`1`, false},
		{`0`, false},
		{`null`, false},
		{`["true"]`, false},
		{`{"value": true}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
				t.Fatal(err)
			}
			if got := admin.Truthy(v); got != tt.want {
				t.Errorf("Truthy(%s) = %v, want %v", tt.json, got, tt.want)
			}
		})
	}
}

func TestRolesFromClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		want []string
	}{
		{`"admin"`, []string{"admin"}},
		{`" ops "`, []string{"ops"}},
		{`""`, nil},
		{`["viewer", "ops"]`, []string{"viewer", "ops"}},
		{`["viewer", "", " "]`, []string{"viewer"}},
		{`[]`, nil},
		{`["admin", 1]`, nil},
		{`[["admin"]]`, nil},
		{`{"admin": false}`, nil},
		{`{"admin": true}`, nil},
		{`1`, nil},
		{`true`, nil},
		{`null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
				t.Fatal(err)
			}
			if got := admin.RolesFromClaim(v); !slices.Equal(got, tt.want) {
				t.Errorf("RolesFromClaim(%s) = %q, want %q", tt.json, got, tt.want)
			}
		})
	}
	t.Run("string slice", func(t *testing.T) {
		t.Parallel()
		if got := admin.RolesFromClaim([]string{"a", " ", "b"}); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("RolesFromClaim([]string) = %q", got)
		}
	})
}
