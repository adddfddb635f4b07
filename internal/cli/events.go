package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/hooks"
)

// eventsCmd is `weir events list|dead|retry`: the registry's event
// outbox and the hooks' dead letters (/weir-api/events).
func eventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the registry's events and manage the hooks' dead letters",
		Long: `Every change of buckets, flows, versions, users and groups writes an event
(NiFi Registry's event types and fields) in the same replicated command as
the change. The leader delivers them to the hooks of --hooks FILE at least
once, in commit order per hook; an event a hook keeps failing goes to the
dead-letter list, from where "weir events retry" sends it again. Any node
serves the event stream.`,
	}

	var lf adminFlags
	var after uint64
	var limit int
	var follow bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List events after an id (--follow keeps waiting for new ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			if !lf.json {
				fmt.Fprintln(tw, "ID\tINDEX\tTYPE\tTIME\tFIELDS")
			}
			for {
				q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
				g := lf
				if follow {
					q.Set("wait", "30s")
					g.timeout = max(lf.timeout, 40*time.Second)
				}
				var p hooks.Page
				if err := g.call(cmd.Context(), http.MethodGet, hooks.Path+"?"+q.Encode(), nil, false, &p); err != nil {
					return err
				}
				if after+1 < p.First && len(p.Events) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "events %d to %d were compacted (retention)\n", after+1, p.First-1)
				}
				for _, e := range p.Events {
					if lf.json {
						if err := printJSON(out, e); err != nil {
							return err
						}
					} else {
						fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", e.ID, e.Index, e.Type, eventTime(e), eventFields(e))
					}
					after = e.ID
				}
				_ = tw.Flush()
				if !follow && (len(p.Events) < limit || len(p.Events) == 0) {
					return nil
				}
				if cmd.Context().Err() != nil {
					return nil
				}
			}
		},
	}
	lf.register(list, false)
	list.Flags().Uint64Var(&after, "after", 0, "list events with ids above this one")
	list.Flags().IntVar(&limit, "limit", 100, "events per request (1-1000)")
	list.Flags().BoolVarP(&follow, "follow", "f", false, "keep waiting for new events (long poll)")

	var df adminFlags
	var hook string
	dead := &cobra.Command{
		Use:   "dead",
		Short: "List the events hooks gave up on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := hooks.DeadPath
			if hook != "" {
				path += "?" + url.Values{"hook": {hook}}.Encode()
			}
			var p hooks.DeadPage
			if err := df.call(cmd.Context(), http.MethodGet, path, nil, false, &p); err != nil {
				return err
			}
			if df.json {
				return printJSON(cmd.OutOrStdout(), p.Dead)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOOK\tEVENT\tTYPE\tATTEMPTS\tFAILED\tRETRY\tERROR")
			for _, d := range p.Dead {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%v\t%s\n", d.Hook, d.Event.ID, d.Event.Type, d.Attempts,
					time.UnixMilli(d.At).UTC().Format(time.RFC3339), d.Retry, d.Error)
			}
			return tw.Flush()
		},
	}
	df.register(dead, false)
	dead.Flags().StringVar(&hook, "hook", "", "only this hook's dead letters")

	var rf adminFlags
	var rhook string
	var idStrs []string
	var all bool
	retry := &cobra.Command{
		Use:   "retry (--hook NAME [--event ID]... | --all)",
		Short: "Deliver dead letters again (the leader sends each once more)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all == (rhook != "") {
				return fmt.Errorf("give --hook NAME (with --event ID to pick events) or --all")
			}
			var ids []uint64
			for _, s := range idStrs {
				id, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return fmt.Errorf("--event %q is not an event id", s)
				}
				ids = append(ids, id)
			}
			if all && len(ids) > 0 {
				return fmt.Errorf("--event needs --hook")
			}
			var res hooks.RetryResult
			if err := rf.call(cmd.Context(), http.MethodPost, hooks.RetryPath, hooks.RetryRequest{Hook: rhook, Events: ids}, true, &res); err != nil {
				return err
			}
			if rf.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "marked %d dead letter(s) for another delivery\n", res.Retried)
			return nil
		},
	}
	rf.register(retry, true)
	retry.Flags().StringVar(&rhook, "hook", "", "the hook whose dead letters to retry")
	retry.Flags().StringSliceVar(&idStrs, "event", nil, "event id to retry (repeatable; default: all of the hook's)")
	retry.Flags().BoolVar(&all, "all", false, "retry every hook's dead letters")

	cmd.AddCommand(list, dead, retry)
	return cmd
}

func eventTime(e events.Event) string {
	if e.Time == 0 {
		return "-"
	}
	return time.UnixMilli(e.Time).UTC().Format(time.RFC3339)
}

func eventFields(e events.Event) string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Name+"="+strconv.Quote(f.Value))
	}
	return strings.Join(parts, " ")
}
