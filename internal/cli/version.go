package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time: go build -ldflags "-X github.com/sfbridge/sfbridge/internal/cli.version=v0.1.0".
var version = ""

// BuildInfo is what `sfbridge version` reports.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// ReadBuildInfo reports the version set at link time, else the module
// version and VCS revision recorded by the Go toolchain.
func ReadBuildInfo() BuildInfo {
	bi := BuildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	if bi.Version == "" || bi.Version == "(devel)" {
		bi.Version = "dev"
	}
	return bi
}

func newVersionCmd(stdio IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of sfbridge",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			bi := ReadBuildInfo()
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				return enc.Encode(bi)
			}
			line := "sfbridge " + bi.Version
			if bi.Commit != "" {
				c := bi.Commit
				if len(c) > 12 {
					c = c[:12]
				}
				line += " (" + c
				if bi.Modified {
					line += ", modified"
				}
				line += ")"
			}
			_, err := fmt.Fprintf(stdio.Out, "%s %s %s\n", line, bi.GoVersion, bi.Platform)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
