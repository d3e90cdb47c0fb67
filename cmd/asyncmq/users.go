package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func newUsersCmd(a *app) *cobra.Command {
	var usersDB string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage dashboard users for --auth jwt-db and --auth password",
		Long: `Manage the dashboard users that "serve --auth jwt-db" and "serve --auth password" check.

Users live in the queue's SQLite file by default, or in the database --users-db names
(env ASYNCMQ_USERS_DB): sqlite://PATH or postgres://USER@HOST/DB.`,
		RunE: group,
	}
	cmd.PersistentFlags().StringVar(&usersDB, "users-db", "", "users database (env ASYNCMQ_USERS_DB); default the --backend SQLite file")

	// withStore opens the users store for one subcommand.
	withStore := func(fn func(ctx context.Context, s users.Store, args []string) error) func(context.Context, *cobra.Command, []string) error {
		return func(ctx context.Context, c *cobra.Command, args []string) error {
			if err := cli.BindEnv(c.Flags(), a.getenv, "users-db"); err != nil {
				return err
			}
			s, err := cli.OpenUsers(ctx, a.backendURL, usersDB)
			if err != nil {
				return err
			}
			defer s.Close()
			return fn(ctx, s, args)
		}
	}

	var add users.User
	addCmd := &cobra.Command{
		Use:   "add <id>",
		Short: "Add an active user",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(withStore(func(ctx context.Context, s users.Store, args []string) error {
			u := add
			u.ID, u.Active = args[0], true
			if err := users.ValidateID(u.ID); err != nil {
				return cli.AsUsage(err)
			}
			created, err := s.Create(ctx, u)
			if err != nil {
				return err
			}
			return a.print(userView(created), func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "added user %q; set a password with: asyncmq users set-password %s\n", created.ID, created.ID)
				return err
			})
		})),
	}
	af := addCmd.Flags()
	af.StringVar(&add.Email, "email", "", "e-mail address")
	af.StringVar(&add.DisplayName, "name", "", "display name")
	af.BoolVar(&add.Admin, "admin", false, "grant the admin role")
	af.StringArrayVar(&add.Roles, "role", nil, "role, repeatable: viewer, operator, admin or your own")

	cmd.AddCommand(
		addCmd,
		&cobra.Command{
			Use:   "list",
			Short: "List users",
			Args:  cobra.NoArgs,
			RunE: a.action(withStore(func(ctx context.Context, s users.Store, _ []string) error {
				us, err := s.List(ctx, users.ListParams{})
				if err != nil {
					return err
				}
				views := make([]userJSON, len(us))
				for i, u := range us {
					views[i] = userView(u)
				}
				return a.print(views, func(w io.Writer) error {
					t := &cli.Table{Header: []string{"ID", "NAME", "EMAIL", "ACTIVE", "ADMIN", "ROLES", "PASSWORD", "CREATED"}}
					for _, u := range views {
						t.Append(u.ID, u.DisplayName, u.Email, u.Active, u.Admin, u.Roles, u.HasPassword, u.CreatedAt)
					}
					return t.Write(w)
				})
			})),
		},
		userActiveCmd(a, withStore, "disable", false),
		userActiveCmd(a, withStore, "enable", true),
		&cobra.Command{
			Use:   "set-password <id>",
			Short: "Set a user's password (asked on the terminal without echo, or read from standard input)",
			Args:  cobra.ExactArgs(1),
			RunE: a.action(withStore(func(ctx context.Context, s users.Store, args []string) error {
				if _, err := s.Get(ctx, args[0]); err != nil {
					return err
				}
				pw, err := readPassword(a.in, a.errOut)
				if err != nil {
					return err
				}
				hash, err := users.HashPassword(pw)
				if err != nil {
					return err
				}
				if err := s.SetPassword(ctx, args[0], hash); err != nil {
					return err
				}
				return a.print(map[string]string{"id": args[0], "action": "set-password"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "password of user %q set\n", args[0])
					return err
				})
			})),
		},
		&cobra.Command{
			Use:   "remove <id>",
			Short: "Delete a user and its roles",
			Args:  cobra.ExactArgs(1),
			RunE: a.action(withStore(func(ctx context.Context, s users.Store, args []string) error {
				if err := s.Remove(ctx, args[0]); err != nil {
					return err
				}
				return a.print(map[string]string{"id": args[0], "action": "remove"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "removed user %q\n", args[0])
					return err
				})
			})),
		},
	)
	return cmd
}

func userActiveCmd(a *app, withStore func(func(context.Context, users.Store, []string) error) func(context.Context, *cobra.Command, []string) error, verb string, active bool) *cobra.Command {
	short := "Stop a user from signing in; the next request of a signed-in user is refused"
	if active {
		short = "Let a disabled user sign in again"
	}
	return &cobra.Command{
		Use:   verb + " <id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.action(withStore(func(ctx context.Context, s users.Store, args []string) error {
			if err := s.SetActive(ctx, args[0], active); err != nil {
				return err
			}
			return a.print(map[string]any{"id": args[0], "active": active}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "user %q %sd\n", args[0], verb)
				return err
			})
		})),
	}
}

// userJSON is a user as `users list --json` prints it: never the password hash.
type userJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email,omitempty"`
	DisplayName string    `json:"display_name,omitempty"`
	Active      bool      `json:"active"`
	Admin       bool      `json:"admin"`
	Roles       []string  `json:"roles"`
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func userView(u *users.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Active: u.Active, Admin: u.Admin,
		Roles: roles, HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// Password length bounds: the minimum is OWASP's for a password-only login; the maximum bounds
// what is read and hashed, so a mistaken pipe of a large file fails fast.
const (
	minPasswordLen = 8
	maxPasswordLen = 1024
)

// readPassword asks for a new password twice on a terminal, without echo; otherwise it reads the
// first line of in, so scripts can pipe one in.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "New password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Repeat it: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(pw) != string(again) {
			return "", errors.New("the two passwords differ; nothing changed")
		}
		return checkPassword(string(pw))
	}
	line, err := bufio.NewReaderSize(io.LimitReader(in, maxPasswordLen+2), maxPasswordLen+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(pw string) (string, error) {
	switch {
	case len([]rune(pw)) < minPasswordLen:
		return "", cli.Usagef("password shorter than %d characters; nothing changed", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return "", cli.Usagef("password longer than %d bytes; nothing changed", maxPasswordLen)
	}
	return pw, nil
}
