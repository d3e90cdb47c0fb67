package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// auditSource is the Source of the audit entries the CLI writes; the dashboard's name its page.
const auditSource = "cli"

// auditActor is who the audit log names: --actor (ASYNCMQ_ACTOR), else the OS user.
func (a *app) auditActor() string {
	if a.actor != "" {
		return a.actor
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}

// audit records a change made by the CLI, as the dashboard records its own: action is the
// dashboard's name for it ("queue.drain"), status follows err. A failure to record is reported
// on standard error but does not fail the command, whose change has already happened.
func (a *app) audit(ctx context.Context, insp *asyncmq.Inspector, action, queue, jobID, detail string, err error) {
	e := asyncmqtype.AuditEntry{Actor: a.auditActor(), Action: action, Status: "success", Queue: queue, JobID: jobID,
		Source: auditSource, Detail: detail}
	if err != nil {
		e.Status, e.Error = "failed", err.Error()
	}
	if _, rerr := insp.RecordAudit(context.WithoutCancel(ctx), e); rerr != nil {
		fmt.Fprintf(a.errOut, "asyncmq: warning: could not record audit entry for %s: %v\n", action, rerr)
	}
}

// errNotConfirmed is returned when the user declines a destructive command.
var errNotConfirmed = errors.New("not confirmed; nothing was changed")

// confirm asks question on a terminal and returns errNotConfirmed unless the answer is yes.
// With yes (--yes), or when standard input is not a terminal (a script), it does not ask.
func (a *app) confirm(yes bool, question string) error {
	if yes || !a.interactive() {
		return nil
	}
	fmt.Fprintf(a.errOut, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
