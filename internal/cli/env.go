package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// EnvPrefix starts the name of every environment variable the command reads.
const EnvPrefix = "ASYNCMQ_"

// EnvName returns the environment variable that backs a flag: "jwt-audience" → ASYNCMQ_JWT_AUDIENCE.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// BindEnv sets every flag of fs that was not given on the command line from its ASYNCMQ_*
// variable, when that variable is set and non-empty: the flag wins, the variable is the fallback.
// Only the named flags are bound, or every flag but --help when names is empty. A value the flag refuses is a
// UsageError naming the variable.
func BindEnv(fs *pflag.FlagSet, lookup func(string) (string, bool), names ...string) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || (len(want) > 0 && !want[f.Name]) {
			return
		}
		name := EnvName(f.Name)
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		if serr := setFromEnv(fs, f, v); serr != nil {
			err = Usagef("environment variable %s=%q (for --%s): %v", name, v, f.Name, serr)
		}
	})
	return err
}

// setFromEnv sets a flag from a variable. A repeatable flag (a slice) takes a comma-separated list,
// replacing its default rather than appending to it.
func setFromEnv(fs *pflag.FlagSet, f *pflag.Flag, v string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		var items []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		if err := sv.Replace(items); err != nil {
			return err
		}
		f.Changed = true
		return nil
	}
	if err := fs.Set(f.Name, v); err != nil {
		// pflag's message repeats the flag name and value; keep only the cause.
		var num *strconv.NumError
		if errors.As(err, &num) {
			return fmt.Errorf("not a valid number")
		}
		if cause := errors.Unwrap(err); cause != nil {
			return cause
		}
		return err
	}
	return nil
}
