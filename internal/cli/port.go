package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/s2s/relay"
)

// portCmd is `weir port create|list|delete|enable|disable`: the public
// site-to-site ports NiFi pushes to and pulls from (/weir-api/ports).
func portCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "port",
		Short: "Configure site-to-site ports (NiFi pushes to input ports, pulls from output ports)",
		Long: `Ports are replicated configuration. An input port receives flowfiles from
NiFi's Remote Process Groups (or any site-to-site client) into a queue kept on
every node; an output port created --from an input port hands that queue's
flowfiles to clients that pull (a relay). A push is confirmed only once a
quorum has every byte; a pulled flowfile leaves the queue only when the
client confirmed its checksum.`,
	}

	var cf adminFlags
	var input, output, from, comments string
	var maxFlowFiles int64
	var maxBytes int64
	var maxAge time.Duration
	var ordered bool
	create := &cobra.Command{
		Use:   "create (--input NAME | --output NAME [--from INPUT])",
		Short: "Create an input port, or an output port fed from an input port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxAge < 0 || (maxAge > 0 && maxAge < time.Millisecond) {
				return fmt.Errorf("--max-age must be 0 or at least 1ms")
			}
			req := relay.CreateRequest{Comments: comments, From: from, MaxFlowFiles: maxFlowFiles, MaxBytes: maxBytes, MaxAge: maxAge.Milliseconds(), Ordered: ordered}
			switch {
			case (input == "") == (output == ""):
				return fmt.Errorf("give one of --input NAME or --output NAME")
			case input != "":
				req.Kind, req.Name = "input", input
				if from != "" || ordered {
					return fmt.Errorf("--from and --ordered are for output ports")
				}
			default:
				req.Kind, req.Name = "output", output
			}
			var p relay.PortStatus
			if err := cf.call(cmd.Context(), http.MethodPost, relay.AdminPath, req, true, &p); err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s port %q with id %s\n", p.Kind, p.Name, p.ID)
			return nil
		},
	}
	cf.register(create, true)
	create.Flags().StringVar(&input, "input", "", "name of a new input port")
	create.Flags().StringVar(&output, "output", "", "name of a new output port")
	create.Flags().StringVar(&from, "from", "", "input port (name or id) whose queue the output port hands out")
	create.Flags().StringVar(&comments, "comments", "", "comments shown to site-to-site clients")
	create.Flags().Int64Var(&maxFlowFiles, "max-flowfiles", 0, "input port: refuse pushes beyond this many queued flowfiles (0: no bound)")
	create.Flags().Var(sizeValue{&maxBytes}, "max-bytes", "input port: refuse pushes beyond this many queued bytes, e.g. 10GiB (0: no bound)")
	create.Flags().DurationVar(&maxAge, "max-age", 0, "input port: expire flowfiles queued this long after their push, e.g. 24h (0: keep until pulled)")
	create.Flags().BoolVar(&ordered, "ordered", false, "output port: hand flowfiles out strictly in queue order, one pull at a time (default: concurrent pulls share the queue)")

	var lf adminFlags
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"status"},
		Short:   "List ports with their queues (queued, bytes, leased); also `weir port status`",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []relay.PortStatus
			if err := lf.call(cmd.Context(), http.MethodGet, relay.AdminPath, nil, false, &ps); err != nil {
				return err
			}
			if lf.json {
				return printJSON(cmd.OutOrStdout(), ps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tID\tSTATE\tFROM\tQUEUED\tBYTES\tLEASED\tMAX AGE\tEXPIRED\tPULLS")
			names := map[string]string{}
			for _, p := range ps {
				names[p.ID] = p.Name
			}
			for _, p := range ps {
				state := "enabled"
				if !p.Enabled {
					state = "disabled"
				}
				age := "-"
				if p.MaxAge > 0 {
					age = (time.Duration(p.MaxAge) * time.Millisecond).String()
				}
				pulls := "-"
				if p.Kind == "output" {
					pulls = "shared"
					if p.Ordered {
						pulls = "ordered"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\n", p.Name, p.Kind, p.ID, state, names[p.From], p.Queued, p.QueuedBytes, p.Leased, age, p.Expired, pulls)
			}
			return tw.Flush()
		},
	}
	lf.register(list, false)

	var df adminFlags
	var force bool
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a port (an input port holding flowfiles needs --force, which drops them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := relay.AdminPath + "/" + url.PathEscape(args[0])
			if force {
				path += "?force=true"
			}
			var p relay.PortStatus
			if err := df.call(cmd.Context(), http.MethodDelete, path, nil, true, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s port %q\n", p.Kind, p.Name)
			return nil
		},
	}
	df.register(del, true)
	del.Flags().BoolVar(&force, "force", false, "drop the flowfiles queued behind an input port")

	cmd.AddCommand(create, list, del, enableCmd(true), enableCmd(false), retentionCmd(), orderCmd())
	return cmd
}

// orderCmd is `weir port order ID ordered|shared`.
func orderCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "order ID ordered|shared",
		Short: "Hand an output port's flowfiles out strictly in order (one pull at a time), or to concurrent pulls",
		Long: `shared (the default): concurrent pulls each take the oldest flowfiles no
other pull holds, as concurrent transactions on a NiFi output port do;
pulls run side by side, and flowfiles of different pulls may be delivered
out of queue order. ordered: one pull at a time holds the queue, so
flowfiles go out strictly in queue order, even across abandoned pulls and
dead nodes; a concurrent pull gets nothing until the live one ends.
Needs every voter on a build of command level 7 or later.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[1] {
			case "ordered":
				on = true
			case "shared":
			default:
				return fmt.Errorf("the order is ordered or shared, not %q", args[1])
			}
			var p relay.PortStatus
			if err := f.call(cmd.Context(), http.MethodPut, relay.AdminPath+"/"+url.PathEscape(args[0]), relay.UpdateRequest{Ordered: &on}, true, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s port %q is %s\n", p.Kind, p.Name, args[1])
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

// retentionCmd is `weir port retention ID AGE`.
func retentionCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "retention ID AGE",
		Short: "Expire an input port's flowfiles AGE after their push (e.g. 24h; 0 keeps them until pulled)",
		Long: `Flowfiles queued behind the input port longer than AGE leave the head of
its queue: the leader removes them within a second, and a pull never gets
one. Leased flowfiles stay with their pull. The count removed is shown by
'weir port list' (EXPIRED) and the metric weir_s2s_expired_flowfiles_total.
Needs every voter on a build of command level 5 or later.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			age, err := time.ParseDuration(args[1])
			if args[1] == "0" {
				age, err = 0, nil
			}
			if err != nil || age < 0 || (age > 0 && age < time.Millisecond) {
				return fmt.Errorf("AGE is a duration such as 90s, 24h or 0, not %q", args[1])
			}
			ms := age.Milliseconds()
			var p relay.PortStatus
			if err := f.call(cmd.Context(), http.MethodPut, relay.AdminPath+"/"+url.PathEscape(args[0]), relay.UpdateRequest{MaxAge: &ms}, true, &p); err != nil {
				return err
			}
			if ms == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s port %q keeps its flowfiles until pulled\n", p.Kind, p.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s port %q expires flowfiles after %s\n", p.Kind, p.Name, age)
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func enableCmd(on bool) *cobra.Command {
	var f adminFlags
	use, short := "enable ID", "Let clients use a port again"
	if !on {
		use, short = "disable ID", "Refuse new transactions on a port (503 {201}, port not running); its queue is kept"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p relay.PortStatus
			if err := f.call(cmd.Context(), http.MethodPut, relay.AdminPath+"/"+url.PathEscape(args[0]), relay.UpdateRequest{Enabled: &on}, true, &p); err != nil {
				return err
			}
			state := "enabled"
			if !p.Enabled {
				state = "disabled"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s port %q %s\n", p.Kind, p.Name, state)
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}
