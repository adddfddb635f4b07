package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version and Commit are set at build time with -ldflags "-X
// github.com/weir-nifi/weir/internal/cli.Version=…" (scripts/release.sh
// does); without them the Go toolchain's build information is used.
var (
	Version = "dev"
	Commit  = ""
)

// Execute runs the weir command line.
func Execute() int {
	root := &cobra.Command{
		Use:           "weir",
		Short:         "Weir: a highly available, NiFi Registry 2.x compatible flow registry",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), clusterCmd(), versionCmd(), adminTokenCmd(), healthCmd())
	root.AddCommand(maintenanceCmd(), backupCmd(), restoreCmd(), migrateCmd(), importGitCmd(), portCmd(), s2sCmd(), drCmd(), drillCmd(), auditCmd(), eventsCmd(), registryCmd())
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd); err != nil {
			return err
		}
		return applyConfig(cmd)
	}
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "weir:", err)
		return 1
	}
	return 0
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
		},
	}
}

// versionString names the build: the version (set with -ldflags, else
// the module version when built with `go install …@version`), the commit
// it was built from (+dirty with uncommitted changes), the Go release and
// the NiFi Registry API it serves.
func versionString() string {
	v, commit, dirty := Version, "unknown commit", ""
	if Commit != "" {
		commit = "commit " + Commit[:min(12, len(Commit))]
	} else if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = "commit " + s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("weir %s (%s%s, %s, NiFi Registry API 2.7.2)", v, commit, dirty, runtime.Version())
}

// applyEnv fills every flag the user did not set from WEIR_<FLAG_NAME>
// (dashes become underscores): --data-dir ↔ WEIR_DATA_DIR.
func applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := cmd.Flags().Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
