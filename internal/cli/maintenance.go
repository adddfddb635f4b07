package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/ops"
)

// maintenanceCmd is `weir maintenance on|off|status`: the cluster-wide
// read-only switch (POST/GET /nifi-registry-api/actuator/maintenance).
func maintenanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Turn cluster-wide maintenance mode (read-only) on or off, or show it",
		Long: `Maintenance mode makes the whole cluster read-only: every node answers every
state-changing request with 503, Retry-After and a message giving the reason,
while reads keep working. It is replicated state: it survives restarts and
leader changes until turned off. "on" returns once every earlier write is
committed and the switch is applied (it lists the nodes that applied it).`,
	}
	var onF adminFlags
	var reason, by string
	on := &cobra.Command{
		Use:   "on",
		Short: "Refuse writes on every node (reads keep working)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("say why with --reason (shown to every client whose write is refused)")
			}
			return setMaintenance(cmd, &onF, true, reason, by)
		},
	}
	onF.register(on, true)
	on.Flags().StringVar(&reason, "reason", "", "why writes are refused (required; shown to clients)")
	on.Flags().StringVar(&by, "by", defaultOperator(), "operator recorded as having switched it")

	var offF adminFlags
	var offBy string
	off := &cobra.Command{
		Use:   "off",
		Short: "Accept writes again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return setMaintenance(cmd, &offF, false, "", offBy)
		},
	}
	offF.register(off, true)
	off.Flags().StringVar(&offBy, "by", defaultOperator(), "operator recorded as having switched it")

	var stF adminFlags
	status := &cobra.Command{
		Use:   "status",
		Short: "Show whether maintenance mode is on, why, since when and by whom",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var m ops.MaintenanceStatus
			if err := stF.call(cmd.Context(), http.MethodGet, ops.Base+"/maintenance", nil, false, &m); err != nil {
				return err
			}
			if stF.json {
				return printJSON(cmd.OutOrStdout(), m)
			}
			printMaintenance(cmd.OutOrStdout(), m)
			return nil
		},
	}
	stF.register(status, false)
	cmd.AddCommand(on, off, status)
	return cmd
}

func setMaintenance(cmd *cobra.Command, f *adminFlags, enabled bool, reason, by string) error {
	req := ops.MaintenanceRequest{Enabled: &enabled}
	if enabled {
		req.Reason = &reason
	}
	if by != "" {
		req.By = &by
	}
	var m ops.MaintenanceStatus
	if err := f.call(cmd.Context(), http.MethodPost, ops.Base+"/maintenance", req, true, &m); err != nil {
		return err
	}
	if f.json {
		return printJSON(cmd.OutOrStdout(), m)
	}
	printMaintenance(cmd.OutOrStdout(), m)
	return nil
}

func printMaintenance(w io.Writer, m ops.MaintenanceStatus) {
	state := "OFF: writes are accepted"
	if m.Enabled {
		state = "ON: the cluster is read-only"
	}
	fmt.Fprintf(w, "maintenance %s\n", state)
	if m.Enabled && m.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", m.Reason)
	}
	if m.Since > 0 {
		t := time.UnixMilli(m.Since)
		fmt.Fprintf(w, "  since:  %s (%s ago)\n", t.Format(time.RFC3339), time.Since(t).Round(time.Second))
	}
	if m.By != "" {
		fmt.Fprintf(w, "  by:     %s\n", m.By)
	}
	if len(m.AppliedOn) > 0 {
		fmt.Fprintf(w, "  applied on: %s\n", strings.Join(m.AppliedOn, ", "))
	}
	if len(m.Pending) > 0 {
		fmt.Fprintf(w, "  not yet applied on (unreachable or behind): %s\n", strings.Join(m.Pending, ", "))
	}
}

// defaultOperator is user@host of whoever runs the command.
func defaultOperator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case name != "" && host != "":
		return name + "@" + host
	case name != "":
		return name
	}
	return ""
}
