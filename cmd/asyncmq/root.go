package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// app is the state every command shares: the streams, the environment and the global flags.
type app struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) (string, bool)

	backendURL string
	json       bool
	logLevel   string
	log        *slog.Logger

	// started is set once a command's own code runs; an error before that came from parsing
	// arguments and flags, so it is a usage error.
	started bool
	// onListen, when set, is told the address serve listens on (tests bind 127.0.0.1:0).
	onListen func(net.Addr)
	// onMetricsListen, when set, is told the address of serve's --metrics-addr listener.
	onMetricsListen func(net.Addr)
	// actor is --actor: who the audit log names for the changes this command makes.
	actor string
	// interactive reports whether the command may ask a question on standard input; default
	// whether it is a terminal. Tests replace it.
	interactive func() bool
}

func newApp(in io.Reader, out, errOut io.Writer, getenv func(string) (string, bool)) *app {
	a := &app{in: in, out: out, errOut: errOut, getenv: getenv}
	a.interactive = func() bool { return cli.IsTerminalInput(a.in) }
	return a
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, a *app, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !a.started {
		err = cli.AsUsage(err)
	}
	if err != nil {
		fmt.Fprintf(a.errOut, "asyncmq: %v\n", err)
		if cli.ExitCode(err) == cli.ExitUsage {
			// Point at the help of the command that was meant, not the whole tool's.
			path := "asyncmq"
			if cmd != nil {
				path = cmd.CommandPath()
			}
			fmt.Fprintf(a.errOut, "Run '%s --help' for usage.\n", path)
		}
	}
	return cli.ExitCode(err)
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "asyncmq",
		Short: "Run asyncmq workers and its dashboard, and administer queues and jobs",
		Long: `asyncmq runs job workers and the admin dashboard, and administers queues and jobs.

Every command works on the store named by --backend or ASYNCMQ_BACKEND:
  sqlite://asyncmq.db       a SQLite file (relative path; sqlite:///abs/path.db for absolute)
  postgres://USER@HOST/DB   a PostgreSQL database (?schema=NAME, ?migrate=auto; see asyncmq migrate)
  redis://HOST:6379/0       a Redis server (redis+cluster://, redis+sentinel:// too)
  memory://                 an in-process store (useful for bench)

Start here:  asyncmq serve --demo`,
		Version:       readVersion().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.BindEnv(cmd.Flags(), a.getenv, "backend", "log-level", "actor"); err != nil {
				return err
			}
			l, err := cli.NewLogger(a.errOut, a.logLevel)
			if err != nil {
				return cli.Usagef("--log-level (%s): %w", cli.EnvName("log-level"), err)
			}
			a.log = l
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.AsUsage(err) })
	root.SetVersionTemplate("asyncmq {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.backendURL, "backend", asyncmq.DefaultBackendURL, "job store URL (env ASYNCMQ_BACKEND): sqlite://PATH, postgres://..., redis://... or memory://")
	pf.BoolVar(&a.json, "json", false, "print JSON for scripts instead of tables")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level (env ASYNCMQ_LOG_LEVEL): debug, info, warn or error")
	pf.StringVar(&a.actor, "actor", "", "who the audit log names for changes made by this command (env ASYNCMQ_ACTOR; default the OS user)")

	root.AddCommand(
		newWorkerCmd(a),
		newEnqueueCmd(a),
		newQueueCmd(a),
		newJobCmd(a),
		newRepeatableCmd(a),
		newVersionCmd(a),
		newBenchCmd(a),
		newServeCmd(a),
		newTokenCmd(a),
		newUsersCmd(a),
		newMigrateCmd(a),
	)
	return root
}

// action adapts a command body to cobra, marking the command as started so that its errors keep
// their own exit code.
func (a *app) action(fn func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return fn(cmd.Context(), cmd, args)
	}
}

// group is the body of a command that only holds subcommands: help without arguments, a usage
// error for an unknown subcommand.
func group(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}

// openBackend opens the store named by --backend. A URL Open refuses as malformed or unsupported
// is a usage error; a store that cannot be opened (an unreadable file) is a runtime error. The
// URL is shown without its password. Unless create is set, a missing SQLite file is an error
// rather than a new empty database: only the commands that add work (enqueue, worker, repeatable
// create, queue pause --create, bench) create one.
func (a *app) openBackend(ctx context.Context, create bool) (asyncmq.Store, error) {
	if !create {
		if err := cli.RequireExistingStore(a.backendURL); err != nil {
			return nil, err
		}
	}
	b, err := asyncmq.Open(ctx, a.backendURL)
	if err != nil {
		err = fmt.Errorf("--backend (%s) %q: %w", cli.EnvName("backend"), redact.URL(a.backendURL), err)
		if errors.Is(err, asyncmqtype.ErrInvalid) {
			return nil, cli.AsUsage(err)
		}
		return nil, err
	}
	return b, nil
}

// withInspector opens the existing store, runs fn with an Inspector over it and closes the
// store.
func (a *app) withInspector(ctx context.Context, fn func(*asyncmq.Inspector) error) error {
	return a.withStore(ctx, false, fn)
}

// withStore is withInspector that creates a missing SQLite file when create is set.
func (a *app) withStore(ctx context.Context, create bool, fn func(*asyncmq.Inspector) error) error {
	b, err := a.openBackend(ctx, create)
	if err != nil {
		return err
	}
	defer b.Close()
	return fn(asyncmq.NewInspector(b))
}

// print writes v as JSON with --json, else calls human.
func (a *app) print(v any, human func(io.Writer) error) error {
	if a.json {
		return cli.WriteJSON(a.out, v)
	}
	return human(a.out)
}
