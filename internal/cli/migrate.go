package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/migrate"
)

// migrateCmd is `weir migrate --from URL --server URL`.
func migrateCmd() *cobra.Command {
	var from, server string
	var quiet, asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy every bucket, flow and version from a NiFi Registry (or another Weir) into Weir",
		Long: `Copy every bucket, flow and version from a running NiFi Registry 1.x/2.x (or
another Weir) over its REST API, keeping identifiers, version numbers, authors,
timestamps and comments. The run is idempotent and resumable: it only writes
what the destination lacks, so running it again after an interruption
completes it, and running it twice changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("say which registry to copy from with --from URL")
			}
			p := newProgress(cmd.ErrOrStderr(), "migrate", 0, false, "versions", quiet)
			start := time.Now()
			res, err := migrate.Migrate(cmd.Context(), client.New(from), client.New(server), p)
			p.Done()
			return report(cmd.OutOrStdout(), res, err, asJSON, time.Since(start))
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "base URL of the source registry (http://host:18080)")
	f.StringVar(&server, "server", "http://127.0.0.1:18080", "base URL of any node of the destination Weir")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// importGitCmd is `weir import-git DIR --server URL`.
func importGitCmd() *cobra.Command {
	var server string
	var o migrate.GitOptions
	var quiet, asJSON bool
	cmd := &cobra.Command{
		Use:   "import-git DIR",
		Short: "Load a NiFi Registry git flow storage directory into Weir",
		Long: `Load the flow storage directory of NiFi Registry's GitFlowPersistenceProvider:
one directory per bucket with a bucket.yml, and a .snapshot file per flow.
When DIR is a git repository every version is read from its history (as
NiFi Registry does at start); otherwise only the versions on disk are. Bucket
and flow identifiers, version numbers, authors, comments and times are kept.
Idempotent: running it again only adds what is missing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := newProgress(cmd.ErrOrStderr(), "import", 0, false, "versions", quiet)
			start := time.Now()
			res, err := migrate.ImportGit(cmd.Context(), args[0], client.New(server), p, o)
			p.Done()
			return report(cmd.OutOrStdout(), res, err, asJSON, time.Since(start))
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:18080", "base URL of any node of the destination Weir")
	f.BoolVar(&o.WorkingTreeOnly, "working-tree-only", false, "ignore the git history: import only the versions on disk")
	f.BoolVar(&o.Renumber, "renumber", false, "import versions that are not contiguous from 1 as 1..n instead of refusing the flow")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func report(w io.Writer, res migrate.Result, err error, asJSON bool, took time.Duration) error {
	if asJSON {
		if perr := printJSON(w, res); perr != nil {
			return perr
		}
	} else {
		fmt.Fprintf(w, "buckets:  %d created, %d already there\n", res.BucketsCreated, res.BucketsExisting)
		fmt.Fprintf(w, "flows:    %d created, %d already there\n", res.FlowsCreated, res.FlowsExisting)
		fmt.Fprintf(w, "versions: %d copied, %d already there\n", res.VersionsCopied, res.VersionsExisting)
		fmt.Fprintf(w, "bundles:  %d versions copied, %d already there\n", res.BundleVersionsCopied, res.BundleVersionsExisting)
		for _, m := range res.Warnings {
			fmt.Fprintf(w, "warning: %s\n", m)
		}
		for _, m := range res.Errors {
			fmt.Fprintf(w, "error: %s\n", m)
		}
		fmt.Fprintf(w, "took %s\n", took.Round(time.Millisecond))
	}
	if err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d item(s) could not be copied (see above); fix them and run again: the run is resumable", len(res.Errors))
	}
	return nil
}
