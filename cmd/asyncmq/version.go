package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `asyncmq version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

func readVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form `asyncmq --version` prints after "asyncmq ".
func (v versionInfo) String() string {
	s := fmt.Sprintf("%s (%s, %s)", v.Version, v.Go, v.Platform)
	if v.Revision != "" {
		s += " revision " + v.Revision
		if v.Modified {
			s += " (modified)"
		}
	}
	return s
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the asyncmq module version and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: a.action(func(context.Context, *cobra.Command, []string) error {
			v := readVersion()
			return a.print(v, func(w io.Writer) error {
				fmt.Fprintf(w, "asyncmq %s (%s, %s)\n", v.Version, v.Go, v.Platform)
				if v.Revision != "" {
					dirty := ""
					if v.Modified {
						dirty = " (modified)"
					}
					fmt.Fprintf(w, "revision %s%s\n", v.Revision, dirty)
				}
				return nil
			})
		}),
	}
}
