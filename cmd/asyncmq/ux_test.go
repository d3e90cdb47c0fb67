package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// runTTY runs a command as if standard input were a terminal that answers stdin.
func (f *fixture) runTTY(stdin string, args ...string) result {
	f.t.Helper()
	var out, errOut syncBuffer
	a := newApp(strings.NewReader(stdin), &out, &errOut, f.getenv)
	a.interactive = func() bool { return true }
	args = append([]string{"--backend", f.backendURL}, args...)
	code := run(context.Background(), a, args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// audits returns the store's audit entries, newest first.
func (f *fixture) audits() []asyncmqtype.AuditEntry {
	f.t.Helper()
	b, err := asyncmq.Open(context.Background(), f.backendURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer b.Close()
	es, err := asyncmq.NewInspector(b).Audit(context.Background(), asyncmqtype.AuditParams{Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	f := setup(t)
	out := f.mustRun("--version")
	if !strings.HasPrefix(out, "asyncmq ") || !strings.Contains(out, "go1.") {
		t.Fatalf("--version printed %q", out)
	}
}

func TestUsageErrorsPointAtSubcommandHelp(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.run("queue", "pause", "--bogus", "q")
	checkFailure(t, r, 2, []string{"unknown flag: --bogus", "Run 'asyncmq queue pause --help' for usage."})
	r = f.run("repeatable", "create", "t", "--every", "0s")
	checkFailure(t, r, 2, []string{"--every 0s: the interval must be positive", "Run 'asyncmq repeatable create --help'"})
}

func TestQueueUnknown(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.run("queue", "info", "nope")
	checkFailure(t, r, 1, []string{"queue not found"})
	if n := strings.Count(r.stderr, "get queue"); n != 1 {
		t.Errorf("queue info of an unknown queue: %q wraps the error %d times, want once", r.stderr, n)
	}
	r = f.run("queue", "pause", "nope")
	checkFailure(t, r, 1, []string{`queue "nope" not found (add --create to create it)`})
	if list := f.mustRun("queue", "list", "--json"); strings.Contains(list, "nope") {
		t.Fatalf("a refused pause left a queue behind: %s", list)
	}
	f.mustRun("queue", "pause", "nope", "--create")
	if q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "nope", "--json")); !q.Paused {
		t.Fatalf("pause --create: %+v, want a paused queue", q)
	}
}

func TestQueueRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("enqueue", "t", "--queue", "rl")
	f.mustRun("queue", "rate-limit", "rl", "--limit", "5", "--per", "2s", "--actor", "ops-bot")
	q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "rl", "--json"))
	if q.RateLimit != 5 || q.RateInterval != 2*time.Second {
		t.Fatalf("after rate-limit: %d per %s, want 5 per 2s", q.RateLimit, q.RateInterval)
	}
	if a := f.audits()[0]; a.Action != "queue.rate_limit" || a.Actor != "ops-bot" || a.Queue != "rl" || a.Source != "cli" || a.Status != "success" {
		t.Fatalf("audit entry %+v", a)
	}
	f.mustRun("queue", "rate-limit", "rl", "--off")
	if q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "rl", "--json")); q.RateLimit != 0 {
		t.Fatalf("after --off: %+v, want no limit", q)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rl"}, "give --limit N (with --per) or --off"},
		{[]string{"rl", "--limit", "0"}, "--limit 0: must be from 1"},
		{[]string{"rl", "--limit", "3", "--per", "0s"}, "--per 0s: the interval must be positive"},
		{[]string{"rl", "--limit", "3", "--off"}, "not both"},
	} {
		checkFailure(t, f.run(append([]string{"queue", "rate-limit"}, tt.args...)...), 2, []string{tt.want})
	}
	checkFailure(t, f.run("queue", "rate-limit", "ghost", "--limit", "1"), 1, []string{`queue "ghost" not found`})
}

func TestDestructiveCommandsConfirmOnTTY(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("enqueue", "t", "--queue", "d")
	r := f.runTTY("n\n", "queue", "drain", "d")
	checkFailure(t, r, 1, []string{`Delete every waiting and waiting-children job of queue "d"? [y/N]`, "not confirmed"})
	if q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "d", "--json")); q.Counts[asyncmqtype.StateWaiting] != 1 {
		t.Fatalf("a declined drain deleted jobs: %+v", q.Counts)
	}
	if r := f.runTTY("y\n", "queue", "drain", "d"); r.code != 0 || !strings.Contains(r.stdout, "1 jobs deleted") {
		t.Fatalf("confirmed drain: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = f.runTTY("", "queue", "obliterate", "d")
	checkFailure(t, r, 1, []string{"not confirmed"})
	if r := f.runTTY("", "queue", "obliterate", "d", "--yes"); r.code != 0 {
		t.Fatalf("obliterate --yes asked anyway: exit %d, %q", r.code, r.stderr)
	}
	// Off a terminal (scripts, pipes) nothing is asked.
	f.mustRun("enqueue", "t", "--queue", "e")
	f.mustRun("queue", "obliterate", "e")
}

func TestCLIChangesAreAudited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.env["ASYNCMQ_ACTOR"] = "deploy-bot"
	id := strings.TrimSpace(f.mustRun("enqueue", "t", "--queue", "au"))
	f.mustRun("job", "cancel", id)
	f.mustRun("job", "retry", id)
	f.mustRun("job", "remove", id)
	f.mustRun("enqueue", "t", "--queue", "au")
	f.mustRun("queue", "drain", "au")
	f.mustRun("queue", "clean", "au", "--state", "completed")
	f.mustRun("queue", "obliterate", "au")
	var got []string
	for _, e := range f.audits() {
		if e.Actor != "deploy-bot" || e.Source != "cli" || e.Queue != "au" || e.Status != "success" {
			t.Errorf("audit entry %+v, want deploy-bot from cli on au, success", e)
		}
		got = append(got, e.Action)
	}
	want := "queue.obliterate queue.clean queue.drain job.remove job.retry job.cancel"
	if strings.Join(got, " ") != want {
		t.Fatalf("audit actions %v, want %s", got, want)
	}
}

func TestCancelTerminalJobNamesState(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := strings.TrimSpace(f.mustRun("enqueue", "t", "--queue", "c"))
	f.mustRun("job", "cancel", id)
	r := f.run("job", "cancel", id)
	checkFailure(t, r, 1, []string{"the job is cancelled; cancel applies only to waiting, delayed or active jobs"})
}

func TestRepeatableCreatePriorityAndRetries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := decode[asyncmqtype.Repeatable](t, f.mustRun("repeatable", "create", "report", "--every", "1m", "--priority", "2", "--max-retries", "7", "--json"))
	if r.Priority != 2 || r.MaxRetries != 7 || r.Interval != time.Minute {
		t.Fatalf("created %+v, want priority 2, 7 retries, every 1m", r)
	}
	checkFailure(t, f.run("repeatable", "create", "report", "--every", "-1s"), 2, []string{"the interval must be positive"})
	checkFailure(t, f.run("repeatable", "create", "report", "--every", "1m", "--max-retries", "-1"), 2, []string{"--max-retries -1"})
}

// TestCleanDeletesEveryMatchingJobByDefault: without --limit, clean deletes the whole backlog
// (earlier it stopped at 1,000 and looked done).
func TestCleanDeletesEveryMatchingJobByDefault(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const jobs = 1500
	ctx := context.Background()
	b, err := asyncmq.Open(ctx, f.backendURL)
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]asyncmq.Request, jobs)
	for i := range reqs {
		reqs[i] = asyncmq.Request{Task: "t", Options: []asyncmq.EnqueueOption{asyncmq.Queue("big")}}
	}
	if _, err := asyncmq.NewClient(b).EnqueueMany(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	insp := asyncmq.NewInspector(b)
	if n, err := insp.Apply(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}}); err != nil || n != jobs {
		t.Fatalf("cancel = %d, %v", n, err)
	}
	_ = b.Close()

	out := f.mustRun("queue", "clean", "big", "--state", "cancelled")
	if !strings.Contains(out, `cleaned queue "big": 1500 cancelled jobs deleted`) {
		t.Fatalf("clean printed %q", out)
	}
	out = f.mustRun("queue", "clean", "big", "--state", "cancelled")
	if !strings.Contains(out, "0 cancelled jobs deleted") {
		t.Fatalf("second clean printed %q", out)
	}
}
