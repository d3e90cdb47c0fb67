package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/internal/cli"
)

// migrateResult is what `asyncmq migrate up|down` reports with --json.
type migrateResult struct {
	DryRun bool            `json:"dry_run"`
	Steps  []migrationStep `json:"steps"`
}

type migrationStep struct {
	Version   int    `json:"version"`
	Name      string `json:"name"`
	Direction string `json:"direction"`
	SQL       string `json:"sql,omitempty"`
}

func newMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the tables of a PostgreSQL store",
		Long: `Create, upgrade or roll back the asyncmq tables of the PostgreSQL store --backend names,
for teams that change schemas in their deploy pipeline. Each run takes an advisory lock and
applies its steps in one transaction, so two deploys starting together are safe.

  asyncmq migrate status --backend postgres://app@db/app?schema=jobs
  asyncmq migrate up --dry-run      # print the SQL, change nothing
  asyncmq migrate up
  asyncmq migrate down              # undo the newest step (down from version 1 drops every table)

A store opened with migrate=auto in its URL migrates itself at start instead. A schema newer than
this binary is refused: upgrade asyncmq.`,
		Args: cobra.ArbitraryArgs,
		RunE: group,
	}
	var dryRun bool
	step := func(use, short string, down bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
				if err := a.requirePostgres(); err != nil {
					return err
				}
				run := postgres.Migrate
				if down {
					run = postgres.MigrateDown
				}
				steps, err := run(ctx, a.backendURL, postgres.MigrateOptions{DryRun: dryRun, Logger: a.log})
				if err != nil {
					return err
				}
				res := migrateResult{DryRun: dryRun, Steps: []migrationStep{}}
				for _, m := range steps {
					s := migrationStep{Version: m.Version, Name: m.Name, Direction: "up"}
					if down {
						s.Direction = "down"
					}
					if dryRun {
						s.SQL = m.Up
						if down {
							s.SQL = m.Down
						}
					}
					res.Steps = append(res.Steps, s)
				}
				return a.print(res, func(w io.Writer) error { return printMigration(w, res) })
			}),
		}
		c.Flags().BoolVar(&dryRun, "dry-run", false, "print the SQL the steps would run, and change nothing")
		return c
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the schema version applied and the newest this binary knows",
		Args:  cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			if err := a.requirePostgres(); err != nil {
				return err
			}
			st, err := postgres.Status(ctx, a.backendURL)
			if err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				state := "up to date"
				switch {
				case st.Current > st.Latest:
					state = "newer than this binary: upgrade asyncmq"
				case st.Current < st.Latest:
					state = fmt.Sprintf("%d step(s) to apply: asyncmq migrate up", st.Latest-st.Current)
				}
				_, err := fmt.Fprintf(w, "schema %s: version %d of %d (%s)\n", st.Schema, st.Current, st.Latest, state)
				return err
			})
		}),
	}
	cmd.AddCommand(
		step("up", "Apply every missing step", false),
		step("down", "Undo the newest applied step", true),
		status,
	)
	return cmd
}

// requirePostgres refuses --backend URLs of stores without migrations.
func (a *app) requirePostgres() error {
	l := strings.ToLower(a.backendURL)
	if strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://") {
		return nil
	}
	return cli.Usagef("--backend (%s): migrate works on postgres:// stores; the other stores create their tables themselves", cli.EnvName("backend"))
}

func printMigration(w io.Writer, res migrateResult) error {
	if len(res.Steps) == 0 {
		_, err := fmt.Fprintln(w, "nothing to do: the schema is at the version asked for")
		return err
	}
	for _, s := range res.Steps {
		verb := "applied"
		if res.DryRun {
			verb = "would apply"
		}
		if _, err := fmt.Fprintf(w, "%s %s %04d_%s\n", verb, s.Direction, s.Version, s.Name); err != nil {
			return err
		}
		if res.DryRun {
			if _, err := fmt.Fprintf(w, "%s\n", strings.TrimSpace(s.SQL)); err != nil {
				return err
			}
		}
	}
	return nil
}
