package cli

import (
	"errors"
	"fmt"
)

// Exit codes of the asyncmq command.
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitRuntime: the command started but failed (the backend refused, a job was not found).
	ExitRuntime = 1
	// ExitUsage: a flag, argument or environment variable is malformed; nothing was done.
	ExitUsage = 2
)

// UsageError is a bad setting: a flag, an argument or an ASYNCMQ_* variable. The command exits
// with ExitUsage and prints the message, which names the setting and the problem.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message; %w wraps as in fmt.Errorf.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// AsUsage marks err as a usage error; nil stays nil.
func AsUsage(err error) error {
	if err == nil {
		return nil
	}
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{Err: err}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitRuntime
}
