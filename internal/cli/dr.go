package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/dr"
)

// drCmd is `weir dr follow|promote|demote|status`: a standby cluster that
// follows a primary in another region (package dr, docs/dr.md).
func drCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dr",
		Short: "Disaster recovery: make this cluster a standby of a primary, promote it, demote an old primary",
		Long: `A standby cluster (its own Raft quorum, in another region) follows a primary
cluster's committed log, in order, and serves reads; it refuses writes naming
the primary. Both clusters use the same cluster key. 'promote' makes the
standby the primary (a new DR epoch); the promoted cluster then fences the
old primary as soon as it can reach it (it refuses writes), and 'demote'
makes the old primary a standby of the new one, saving first what it had
never shipped. Commands go to --server, a node of the cluster they act on.`,
	}

	var ff adminFlags
	var primary string
	follow := &cobra.Command{
		Use:   "follow --primary URL[,URL...]",
		Short: "Make this cluster a standby of the primary at URL (replaces this cluster's data with the primary's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			urls := splitURLs(primary)
			if len(urls) == 0 {
				return fmt.Errorf("--primary: give the URLs of some of the primary's nodes")
			}
			var st dr.Status
			if err := ff.call(cmd.Context(), http.MethodPost, dr.FollowPath, dr.FollowRequest{Primary: urls}, true, &st); err != nil {
				return err
			}
			return printDR(cmd, ff.json, st)
		},
	}
	ff.register(follow, true)
	follow.Flags().StringVar(&primary, "primary", "", "URLs of some of the primary's nodes, comma-separated")

	var pf adminFlags
	var force bool
	promote := &cobra.Command{
		Use:   "promote",
		Short: "Make this standby the primary (refused while the old primary still answers as one, unless --force)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st dr.Status
			t0 := time.Now()
			if err := pf.call(cmd.Context(), http.MethodPost, dr.PromotePath, dr.PromoteRequest{Force: force}, true, &st); err != nil {
				return err
			}
			if !pf.json {
				fmt.Fprintf(cmd.OutOrStdout(), "promoted in %v: DR epoch %d; the old primary (%s) is fenced when it is reached\n",
					time.Since(t0).Round(time.Millisecond), st.Epoch, strings.Join(st.Previous, ", "))
				return nil
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
	pf.register(promote, true)
	promote.Flags().BoolVar(&force, "force", false, "promote even though the old primary still answers (two primaries until it is fenced)")

	var df adminFlags
	var to string
	demote := &cobra.Command{
		Use:   "demote [--primary URL[,URL...]]",
		Short: "Make this fenced old primary a standby of the cluster that replaced it (saves what it never shipped first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res dr.DemoteResult
			if err := df.call(cmd.Context(), http.MethodPost, dr.DemotePath, dr.DemoteRequest{Primary: splitURLs(to)}, true, &res); err != nil {
				return err
			}
			if df.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			switch {
			case res.Unshipped == 0 && !res.Compacted:
				fmt.Fprintln(cmd.OutOrStdout(), "demoted: every entry had been shipped; now a standby")
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "demoted: %d entries from index %d were never shipped; saved in %s (on the node that answered)\n", res.Unshipped, res.From, res.File)
				if res.Compacted {
					fmt.Fprintln(cmd.OutOrStdout(), "some of them were compacted into a snapshot and could not be listed")
				}
			}
			return nil
		},
	}
	df.register(demote, true)
	demote.Flags().StringVar(&to, "primary", "", "the primary to follow (default: the one that fenced this cluster)")

	var sf adminFlags
	status := &cobra.Command{
		Use:   "status",
		Short: "Show this cluster's DR role, epoch and, on a standby, its lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st dr.Status
			if err := sf.call(cmd.Context(), http.MethodGet, dr.Path, nil, false, &st); err != nil {
				return err
			}
			return printDR(cmd, sf.json, st)
		},
	}
	sf.register(status, false)

	cmd.AddCommand(follow, promote, demote, status)
	return cmd
}

func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, withScheme(u))
		}
	}
	return out
}

func printDR(cmd *cobra.Command, asJSON bool, st dr.Status) error {
	if asJSON {
		return printJSON(cmd.OutOrStdout(), st)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "role: %s (DR epoch %d)\n", st.Role, st.Epoch)
	switch st.Role {
	case "standby":
		fmt.Fprintf(w, "primary: %s\nstands at primary index %d\n", strings.Join(st.Primary, ", "), st.Index)
		if st.NeedsSeed {
			fmt.Fprintln(w, "waiting for the primary's snapshot")
		}
		if l := st.Lag; l != nil {
			fmt.Fprintf(w, "lag: %d entries, %.1f s (primary at %d)\n", l.Entries, l.Seconds, l.PrimaryIndex)
			if l.Error != "" {
				fmt.Fprintf(w, "last error: %s\n", l.Error)
			}
		} else {
			fmt.Fprintln(w, "lag: ask the standby's leader")
		}
	case "fenced":
		fmt.Fprintf(w, "replaced by: %s\n", strings.Join(st.Primary, ", "))
		if st.Unshipped != nil {
			fmt.Fprintf(w, "entries never shipped: %d (after index %d); `weir dr demote` saves them\n", *st.Unshipped, st.Index)
		}
	default:
		if len(st.Previous) > 0 {
			fmt.Fprintf(w, "promoted from a standby of %s\n", strings.Join(st.Previous, ", "))
		}
	}
	return nil
}
