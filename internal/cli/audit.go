package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/audit"
	"github.com/weir-nifi/weir/internal/cluster"
)

// auditCmd is `weir audit`: what changed and who was refused, from the
// audit history of one node or of every member.
func auditCmd() *cobra.Command {
	var f adminFlags
	var identity, outcome string
	var since time.Duration
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit history: state changes and refused requests, with identities",
		Long: `Every node records the changes it executed (the leader, for writes a follower
forwarded) and the requests it refused with 401 or 403, with the caller's
identity and proxies, the resource, action and status. The history is kept
in memory per node (the last 10000 events) and written as "audit" log
lines. --all merges the histories of every member.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if identity != "" {
				q.Set("identity", identity)
			}
			if outcome != "" {
				q.Set("outcome", outcome)
			}
			if since > 0 {
				q.Set("since", time.Now().Add(-since).UTC().Format(time.RFC3339))
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			servers := []string{f.server}
			if all {
				var st cluster.Status
				if err := f.call(cmd.Context(), http.MethodGet, cluster.AdminBase+"/status", nil, false, &st); err != nil {
					return err
				}
				servers = servers[:0]
				for _, m := range st.Members {
					if m.APIURL != "" {
						servers = append(servers, m.APIURL)
					}
				}
			}
			var events []audit.Event
			for _, s := range servers {
				g := f
				g.server = s
				var es []audit.Event
				if err := g.call(cmd.Context(), http.MethodGet, audit.Path+"?"+q.Encode(), nil, false, &es); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
				events = append(events, es...)
			}
			sortEvents(events)
			if f.json {
				return printJSON(cmd.OutOrStdout(), events)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tNODE\tIDENTITY\tPROXIES\tACTION\tRESOURCE\tSTATUS\tOUTCOME\tREQUEST")
			for _, e := range events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s %s\n", e.Time.Format(time.RFC3339), e.Node, e.Identity,
					strings.Join(e.Proxies, ","), e.Action, e.Resource, e.Status, e.Outcome, e.Method, e.Path)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&identity, "identity", "", "only events of this identity (the end user)")
	cmd.Flags().StringVar(&outcome, "outcome", "", "only allowed, denied or failed events")
	cmd.Flags().DurationVar(&since, "since", 0, "only events of the last DURATION (e.g. 1h)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most N events per node (the newest)")
	cmd.Flags().BoolVar(&all, "all", false, "merge the histories of every member of the cluster")
	return cmd
}

func sortEvents(es []audit.Event) {
	slices.SortStableFunc(es, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
}
