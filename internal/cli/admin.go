package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/cluster"
)

// adminFlags are shared by commands that talk to a running server.
type adminFlags struct {
	server  string
	json    bool
	keyFile string
	key     string
	dataDir string
	timeout time.Duration
}

func (a *adminFlags) register(cmd *cobra.Command, signed bool) {
	f := cmd.Flags()
	f.StringVar(&a.server, "server", "http://127.0.0.1:18080", "base URL of any Weir node")
	f.BoolVar(&a.json, "json", false, "print JSON")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "request timeout")
	if signed {
		f.StringVar(&a.key, "cluster-key", "", "cluster key (prefer --cluster-key-file)")
		f.StringVar(&a.keyFile, "cluster-key-file", "", "file holding the cluster key")
		f.StringVar(&a.dataDir, "data-dir", "./weir-data", "data directory to read cluster.key from when no key is given")
	}
}

func (a *adminFlags) clusterKey() ([]byte, error) {
	if a.key != "" {
		return []byte(a.key), nil
	}
	path := a.keyFile
	if path == "" {
		path = filepath.Join(a.dataDir, "cluster.key")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("this command needs the cluster key: pass --cluster-key-file (or WEIR_CLUSTER_KEY): %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// call sends a request to the server and decodes a JSON answer into out.
func (a *adminFlags) call(ctx context.Context, method, path string, body any, signed bool, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.server, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if signed {
		key, err := a.clusterKey()
		if err != nil {
			return err
		}
		cluster.SignRequest(key, req, payload)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect and change cluster membership"}

	var st adminFlags
	status := &cobra.Command{
		Use:   "status",
		Short: "Show leader, term, members, lag, zones and failure tolerance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s cluster.Status
			if err := st.call(cmd.Context(), http.MethodGet, cluster.AdminBase+"/status", nil, false, &s); err != nil {
				return err
			}
			if st.json {
				return printJSON(cmd.OutOrStdout(), s)
			}
			printStatus(cmd.OutOrStdout(), s)
			return nil
		},
	}
	st.register(status, false)

	var jf adminFlags
	var jr cluster.JoinRequest
	join := &cobra.Command{
		Use:   "join",
		Short: "Add a node (as a non-voter until it has caught up); nodes started with --join do this themselves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return jf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/join", jr, true, nil)
		},
	}
	jf.register(join, true)
	join.Flags().StringVar(&jr.ID, "id", "", "node id")
	join.Flags().StringVar(&jr.RaftAddr, "raft-addr", "", "the node's cluster address host:port")
	join.Flags().StringVar(&jr.APIURL, "api-url", "", "the node's API base URL")
	join.Flags().StringVar(&jr.Zone, "zone", "", "the node's zone")

	var rf adminFlags
	var force bool
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member (refused below the minimum quorum unless --force)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return rf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/remove", cluster.RemoveRequest{ID: args[0], Force: force}, true, nil)
		},
	}
	rf.register(remove, true)
	remove.Flags().BoolVar(&force, "force", false, "remove even below the minimum quorum")

	var tf adminFlags
	transfer := &cobra.Command{
		Use:   "transfer-leader [ID]",
		Short: "Hand leadership to another voter (to ID if given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req cluster.TransferRequest
			if len(args) == 1 {
				req.ID = args[0]
			}
			return tf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/transfer-leader", req, true, nil)
		},
	}
	tf.register(transfer, true)

	cmd.AddCommand(status, join, remove, transfer)
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, s cluster.Status) {
	leader := s.LeaderID
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "leader %s  term %d  commit %d  voters %d (healthy %d, quorum %d)  failure tolerance %d\n",
		leader, s.Term, s.CommitIndex, s.Voters, s.HealthyVoters, s.Quorum, s.FailureTolerance)
	fmt.Fprintf(w, "\n%-16s %-10s %-9s %-10s %-9s %8s %8s %6s  %s\n", "ID", "ZONE", "SUFFRAGE", "STATE", "REACHABLE", "COMMIT", "APPLIED", "LAG", "API")
	for _, m := range s.Members {
		fmt.Fprintf(w, "%-16s %-10s %-9s %-10s %-9v %8d %8d %6d  %s\n", m.ID, m.Zone, m.Suffrage, m.State, m.Reachable, m.CommitIndex, m.AppliedIndex, m.Lag, m.APIURL)
	}
	fmt.Fprintf(w, "\n%-10s %7s %7s %8s  %s\n", "ZONE", "MEMBERS", "VOTERS", "HEALTHY", "SURVIVES ZONE LOSS")
	for _, z := range s.Zones {
		fmt.Fprintf(w, "%-10s %7d %7d %8d  %v\n", z.Zone, z.Members, z.Voters, z.HealthyVoters, z.SurvivesLoss)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "\nWARNING: %s\n", warn)
	}
}
