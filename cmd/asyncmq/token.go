package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func newTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue dashboard tokens and generate signing keys",
		RunE:  group,
	}
	cmd.AddCommand(newTokenIssueCmd(a), newTokenKeygenCmd(a))
	return cmd
}

func newTokenIssueCmd(a *app) *cobra.Command {
	var (
		p          jwtauth.IssueParams
		keyFile    string
		secretFile string
		alg        string
		raw        bool
	)
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Print a signed JWT for the dashboard",
		Long: `Print "Authorization: Bearer <token>" (with --raw, the token alone) for the dashboard.

The token is signed with the HMAC secret in ASYNCMQ_JWT_SECRET (or the file --jwt-secret-file
names), or with a private key from --key (see "asyncmq token keygen").
  asyncmq token issue --sub alice --name Alice --role operator --ttl 8h`,
		Args: cobra.NoArgs,
		RunE: a.action(func(_ context.Context, _ *cobra.Command, _ []string) error {
			if p.Subject == "" {
				return cli.Usagef("--sub: must not be empty")
			}
			if p.TTL <= 0 {
				return cli.Usagef("--ttl %s: must be positive", p.TTL)
			}
			var key any
			switch {
			case keyFile != "":
				signer, err := jwtauth.LoadPrivateKeyPEM(keyFile)
				if err != nil {
					return cli.Usagef("--key: %w", err)
				}
				key = signer
				if alg == "" {
					if alg, err = jwtauth.AlgorithmForKey(signer.Public()); err != nil {
						return cli.Usagef("--key %s: pass --alg: %v", keyFile, err)
					}
				}
			default:
				secret, err := jwtSecret(a.getenv, secretFile)
				if err != nil {
					return err
				}
				if secret == nil {
					return cli.Usagef("no signing key: set %s, or pass --jwt-secret-file or --key", envJWTSecret)
				}
				key = secret
				if alg == "" {
					alg = "HS256"
				}
			}
			tok, err := jwtauth.Issue(p, alg, key)
			if err != nil {
				return cli.Usagef("issue token: %w", err)
			}
			if raw {
				_, err = fmt.Fprintln(a.out, tok)
			} else {
				_, err = fmt.Fprintf(a.out, "Authorization: Bearer %s\n", tok)
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&p.Subject, "sub", "admin", "subject: the user ID the dashboard sees")
	f.StringVar(&p.Name, "name", "", "display name")
	f.StringVar(&p.Audience, "aud", "", "audience; must match serve's --jwt-audience when that is set")
	f.StringVar(&p.Issuer, "iss", "", "issuer; must match serve's --jwt-issuer when that is set")
	f.DurationVar(&p.TTL, "ttl", time.Hour, "lifetime of the token")
	f.StringArrayVar(&p.Roles, "role", nil, "role claim, repeatable: viewer, operator, admin or your own")
	f.BoolVar(&p.Admin, "admin", false, `set the "is_admin": true claim`)
	f.StringVar(&keyFile, "key", "", "PEM private key to sign with instead of the HMAC secret")
	f.StringVar(&secretFile, "jwt-secret-file", "", "file holding the HMAC secret (default: ASYNCMQ_JWT_SECRET)")
	f.StringVar(&alg, "alg", "", "signing algorithm (default HS256 with a secret, implied by the key with --key)")
	f.BoolVar(&raw, "raw", false, "print the token alone")
	return cmd
}

// envJWTSecret holds the HMAC secret; it is an environment variable only, never a flag, so the
// secret does not show in shell history or the process list.
const envJWTSecret = "ASYNCMQ_JWT_SECRET"

// jwtSecret returns the HMAC secret from file (when set) or ASYNCMQ_JWT_SECRET, nil when neither is
// set. A file's trailing newline is not part of the secret.
func jwtSecret(getenv func(string) (string, bool), file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, cli.Usagef("--jwt-secret-file: %w", err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return nil, cli.Usagef("--jwt-secret-file %s: file is empty", file)
		}
		return b, nil
	}
	if v, ok := getenv(envJWTSecret); ok && v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

func newTokenKeygenCmd(a *app) *cobra.Command {
	var (
		alg   string
		out   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "keygen --alg ES256|RS256|EdDSA --out DIR",
		Short: "Generate a signing key pair: private.pem, public.pem and jwks.json",
		Long: `Generate a key pair for asymmetric JWTs and write, in --out:
  private.pem  the signing key (mode 0600): give it to "asyncmq token issue --key" or your IdP
  public.pem   the verification key: give it to "asyncmq serve --jwt-public-key"
  jwks.json    the public key as a JWK Set, to publish for --jwt-jwks-url`,
		Args: cobra.NoArgs,
		RunE: a.action(func(_ context.Context, _ *cobra.Command, _ []string) error {
			if out == "" {
				return cli.Usagef("--out: must name a directory")
			}
			priv, err := jwtauth.GenerateKey(alg)
			if err != nil {
				return cli.Usagef("--alg %q: %w", alg, err)
			}
			privPEM, err := jwtauth.EncodePrivateKeyPEM(priv)
			if err != nil {
				return err
			}
			pubPEM, err := jwtauth.EncodePublicKeyPEM(priv.Public())
			if err != nil {
				return err
			}
			jwks, err := jwtauth.PublicJWKS(priv.Public(), alg, "")
			if err != nil {
				return err
			}
			files := []struct {
				name string
				data []byte
				mode fs.FileMode
			}{
				{"private.pem", privPEM, 0o600},
				{"public.pem", pubPEM, 0o644},
				{"jwks.json", append(jwks, '\n'), 0o644},
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("create key directory: %w", err)
			}
			if !force {
				for _, f := range files {
					path := filepath.Join(out, f.name)
					if _, err := os.Lstat(path); err == nil {
						return fmt.Errorf("%s already exists; pass --force to replace the key pair", path)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("check %s: %w", path, err)
					}
				}
			}
			var written []string
			for _, f := range files {
				path := filepath.Join(out, f.name)
				if err := writeFileMode(path, f.data, f.mode); err != nil {
					return err
				}
				written = append(written, path)
			}
			return a.print(map[string]any{"alg": alg, "files": written}, func(w io.Writer) error {
				fmt.Fprintf(w, "wrote %s key pair:\n", alg)
				for _, p := range written {
					fmt.Fprintf(w, "  %s\n", p)
				}
				return nil
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&alg, "alg", "ES256", "key algorithm: ES256, ES384, ES512, RS256, PS256 or EdDSA")
	f.StringVar(&out, "out", "", "directory to write the files to (created 0700 if missing)")
	f.BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

// writeFileMode writes data to path with exactly mode, even when the file existed with a looser
// one (os.WriteFile keeps the old mode) or the umask is unusual.
func writeFileMode(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
