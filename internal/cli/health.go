package cli

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/ops"
)

// healthCmd is `weir health [liveness|readiness|leader]`: a probe for
// service managers and container health checks (the image has no curl).
// It exits 0 when the node answers the probe with 200, 1 otherwise.
func healthCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:       "health [liveness|readiness|leader]",
		Short:     "Probe a node: exit 0 when it is live, ready (default) or the ready leader",
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"liveness", "readiness", "leader"},
		RunE: func(cmd *cobra.Command, args []string) error {
			probe := "readiness"
			if len(args) == 1 {
				probe = args[0]
			}
			var out json.RawMessage
			err := f.call(cmd.Context(), http.MethodGet, ops.Base+"/health/"+probe, nil, false, &out)
			if f.json && out != nil {
				fmt.Fprintln(cmd.OutOrStdout(), string(out))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", probe, err)
			}
			if !f.json {
				fmt.Fprintln(cmd.OutOrStdout(), probe+": UP")
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
