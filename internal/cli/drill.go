package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/drill"
)

// drillCmd is `weir drill zone-loss|failover`: failure drills on a running
// deployment that measure RTO and RPO (package drill).
func drillCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Run a failure drill on a running deployment and measure RPO and RTO",
		Long: `A drill runs a canary writer (registry commits and site-to-site pushes, to a
bucket and ports it creates and deletes afterwards, named weir-drill-…),
makes nodes unavailable by isolating them from their cluster (their cluster
traffic is cut and their API answers 503; nothing on disk is touched, and
the isolation ends by itself if the drill dies), waits until the canary's
writes succeed again, and reports:

  RTO  time from the fault until an operation started after it was
       acknowledged (registry and site-to-site separately)
  RPO  acknowledged canary items missing afterwards (0 inside a cluster)

then restores the original layout. Commands need the cluster key.`,
	}
	var o drillFlags
	var zone string
	zoneLoss := &cobra.Command{
		Use:   "zone-loss --zone Z",
		Short: "Isolate every node of zone Z while the canary writes, then bring them back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := o.options(cmd)
			if err != nil {
				return err
			}
			rep, err := drill.ZoneLoss(cmd.Context(), splitURLs(o.server), zone, opts)
			return o.print(cmd.OutOrStdout(), rep, err)
		},
	}
	o.register(zoneLoss)
	zoneLoss.Flags().StringVar(&zone, "zone", "", "the zone to lose")
	_ = zoneLoss.MarkFlagRequired("zone")

	var f drillFlags
	var primary, standby string
	var noRestore bool
	failover := &cobra.Command{
		Use:   "failover --primary URL[,URL...] --standby URL[,URL...]",
		Short: "Isolate the whole primary cluster, promote its standby, then switch back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			rep, err := drill.Failover(cmd.Context(), splitURLs(primary), splitURLs(standby), !noRestore, opts)
			return f.print(cmd.OutOrStdout(), rep, err)
		},
	}
	f.register(failover)
	failover.Flags().StringVar(&primary, "primary", "", "URLs of the primary cluster's nodes (all of them: each is isolated)")
	failover.Flags().StringVar(&standby, "standby", "", "URLs of the standby cluster's nodes")
	failover.Flags().BoolVar(&noRestore, "no-restore", false, "leave the standby promoted (the old primary's isolation ends by itself later; it is then fenced, and 'weir dr demote' makes it the new standby)")
	_ = failover.MarkFlagRequired("primary")
	_ = failover.MarkFlagRequired("standby")

	cmd.AddCommand(zoneLoss, failover)
	return cmd
}

type drillFlags struct {
	adminFlags
	hold, wait, opTimeout, interval time.Duration
}

func (d *drillFlags) register(cmd *cobra.Command) {
	d.adminFlags.register(cmd, true)
	f := cmd.Flags()
	f.Lookup("server").Usage = "base URLs of the cluster's nodes, comma-separated (one is enough for zone-loss)"
	f.DurationVar(&d.hold, "hold", 5*time.Second, "how long the fault lasts after the canary recovered")
	f.DurationVar(&d.wait, "wait", 60*time.Second, "longest wait for recovery and for the layout to come back")
	f.DurationVar(&d.opTimeout, "op-timeout", 5*time.Second, "timeout of one canary operation")
	f.DurationVar(&d.interval, "interval", 20*time.Millisecond, "pause between a canary writer's operations")
}

func (d *drillFlags) options(cmd *cobra.Command) (drill.Options, error) {
	hc, err := d.tls.client()
	if err != nil {
		return drill.Options{}, err
	}
	o := drill.Options{HTTP: hc, Sign: d.cred.authorize, Hold: d.hold, Timeout: d.wait, OpTimeout: d.opTimeout, Interval: d.interval}
	if !d.json {
		w := cmd.ErrOrStderr()
		o.Progress = func(s string) { fmt.Fprintln(w, s) }
	}
	return o, nil
}

func (d *drillFlags) print(w io.Writer, rep drill.Report, err error) error {
	if d.json {
		if perr := printJSON(w, rep); perr != nil {
			return perr
		}
		return err
	}
	fmt.Fprintf(w, "%s drill", rep.Scenario)
	if rep.Zone != "" {
		fmt.Fprintf(w, " (zone %s)", rep.Zone)
	}
	fmt.Fprintf(w, ": isolated %v\n", rep.Isolated)
	if rep.LeaderBefore != "" || rep.LeaderAfter != "" {
		fmt.Fprintf(w, "  leader        %s -> %s\n", rep.LeaderBefore, rep.LeaderAfter)
	}
	fmt.Fprintf(w, "  RTO           %.0f ms (registry %.0f ms, site-to-site %.0f ms)\n", rep.RTOMs, rep.Registry.RTOMs, rep.S2S.RTOMs)
	fmt.Fprintf(w, "  RPO           %d acknowledged items missing (registry %d of %d, site-to-site %d of %d)\n",
		rep.RPO, rep.Registry.Missing, rep.Registry.Acknowledged, rep.S2S.Missing, rep.S2S.Acknowledged)
	fmt.Fprintf(w, "  failed ops    registry %d, site-to-site %d (retried; not acknowledged)\n", rep.Registry.Failed, rep.S2S.Failed)
	if rep.S2S.Duplicates > 0 {
		fmt.Fprintf(w, "  duplicates    %d flowfiles delivered twice (same weir.s2s.id)\n", rep.S2S.Duplicates)
	}
	if rep.PromoteMs > 0 {
		fmt.Fprintf(w, "  promote       %.0f ms\n", rep.PromoteMs)
	}
	fmt.Fprintf(w, "  restored      %v", rep.Restored)
	if rep.Restored {
		fmt.Fprintf(w, " (%.0f ms)", rep.RestoreMs)
	}
	fmt.Fprintln(w)
	return err
}
