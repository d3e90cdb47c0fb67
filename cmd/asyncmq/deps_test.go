package main

import (
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestDependentJobVisibleAsWaitingChildren enqueues a job that depends on another: the CLI must
// show it as waiting-children in job list, queue info and job inspect (with the parent it waits
// for and that parent's state), and show what its parent's cancellation did to it.
func TestDependentJobVisibleAsWaitingChildren(t *testing.T) {
	t.Parallel()
	f := setup(t)
	parent := strings.TrimSpace(f.mustRun("enqueue", "extract", "--queue", "etl"))
	child := strings.TrimSpace(f.mustRun("enqueue", "load", "--queue", "etl", "--depends-on", parent, "--on-parent-failure", "cancel"))

	page := decode[jobPage](t, f.mustRun("job", "list", "--queue", "etl", "--state", "waiting-children", "--json"))
	if page.Total != 1 || len(page.Jobs) != 1 || page.Jobs[0].ID != child {
		t.Fatalf("job list --state waiting-children = %+v, want the child %s", page, child)
	}
	if page = decode[jobPage](t, f.mustRun("job", "list", "--queue", "etl", "--state", "waiting", "--json")); page.Total != 1 || page.Jobs[0].ID != parent {
		t.Fatalf("job list --state waiting = %+v, want only the parent", page)
	}
	info := f.mustRun("queue", "info", "etl")
	if !strings.Contains(info, "waiting-children") {
		t.Fatalf("queue info does not show the waiting-children count:\n%s", info)
	}

	inspect := f.mustRun("job", "inspect", child)
	for _, want := range []string{"waiting-children", "pending parents", parent + " (waiting)", "on parent failure", "cancel"} {
		if !strings.Contains(inspect, want) {
			t.Fatalf("job inspect lacks %q:\n%s", want, inspect)
		}
	}
	d := decode[jobDetail](t, f.mustRun("job", "inspect", child, "--json"))
	if d.State != asyncmqtype.StateWaitingChildren || len(d.Parents) != 1 || d.Parents[0].ID != parent || d.Parents[0].State != asyncmqtype.StateWaiting {
		t.Fatalf("job inspect --json = %+v (parents %+v), want waiting-children with its waiting parent", d.JobInfo, d.Parents)
	}

	f.mustRun("job", "cancel", parent)
	if j := decode[asyncmqtype.JobInfo](t, f.mustRun("job", "inspect", child, "--json")); j.State != asyncmqtype.StateCancelled {
		t.Fatalf("after its parent was cancelled the child is %s, want cancelled (its policy)", j.State)
	}

	r := f.run("enqueue", "load", "--queue", "etl", "--depends-on", parent, "--on-parent-failure", "ignore")
	if r.code != 2 || !strings.Contains(r.stderr, "--on-parent-failure") {
		t.Fatalf("enqueue --on-parent-failure ignore: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}
