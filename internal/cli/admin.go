package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/dr"
)

// adminFlags are shared by commands that talk to a running server.
type adminFlags struct {
	server  string
	json    bool
	timeout time.Duration
	cred    credFlags
	tls     tlsFlags
}

// tlsFlags are the client side of a node serving HTTPS: the CA to trust
// and the certificate that names the caller.
type tlsFlags struct{ cert, key, ca string }

func (t *tlsFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.cert, "tls-cert", "", "client certificate (PEM) for a node serving HTTPS with client certificates")
	f.StringVar(&t.key, "tls-key", "", "private key (PEM) for --tls-cert")
	f.StringVar(&t.ca, "tls-ca", "", "CA certificates (PEM) to verify the node with (default: the system's)")
}

// client returns an HTTP client for the flags (the default one without).
func (t *tlsFlags) client() (*http.Client, error) {
	if t.cert == "" && t.ca == "" {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.cert != "" {
		c, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no certificates found", t.ca)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}, nil
}

func (a *adminFlags) register(cmd *cobra.Command, signed bool) {
	f := cmd.Flags()
	f.StringVar(&a.server, "server", "http://127.0.0.1:18080", "base URL of any Weir node")
	f.BoolVar(&a.json, "json", false, "print JSON")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "request timeout")
	a.tls.register(cmd)
	if signed {
		a.cred.register(cmd)
	}
}

// credFlags give a command the proof of the cluster key that operations
// need (package adminauth): the key itself, to sign each request, or the
// admin token derived from it.
type credFlags struct {
	key     string
	keyFile string
	dataDir string
	token   string
}

func (c *credFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.key, "cluster-key", "", "cluster key (prefer --cluster-key-file)")
	f.StringVar(&c.keyFile, "cluster-key-file", "", "file holding the cluster key")
	f.StringVar(&c.dataDir, "data-dir", "./weir-data", "data directory to read cluster.key from when no key is given")
	f.StringVar(&c.token, "admin-token", "", "admin token (from `weir admin-token`) to use instead of the cluster key")
}

func (c *credFlags) clusterKey() ([]byte, error) {
	if c.key != "" {
		return []byte(c.key), nil
	}
	path := c.keyFile
	if path == "" {
		path = filepath.Join(c.dataDir, "cluster.key")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("this command needs the cluster key: pass --cluster-key-file (or WEIR_CLUSTER_KEY), or --admin-token: %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// authorize signs req (with body) or adds the admin token.
func (c *credFlags) authorize(req *http.Request, body []byte) error {
	if c.token != "" && c.key == "" && c.keyFile == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
		return nil
	}
	key, err := c.clusterKey()
	if err != nil {
		return err
	}
	adminauth.Sign(key, req, body)
	return nil
}

// call sends a request to the server and decodes a JSON answer into out.
func (a *adminFlags) call(ctx context.Context, method, path string, body any, signed bool, out any) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	hc, err := a.tls.client()
	if err != nil {
		return err
	}
	var sign client.Signer
	if signed {
		sign = a.cred.authorize
	}
	err = client.Admin(ctx, hc, sign, withScheme(a.server), method, path, body, out)
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%d %s: %s", ce.Status, http.StatusText(ce.Status), ce.Message)
	}
	return err
}

// withScheme lets --server be host:port: http:// is assumed then.
func withScheme(u string) string {
	if u != "" && !strings.Contains(u, "://") {
		return "http://" + u
	}
	return u
}

// adminTokenCmd prints the admin token of a cluster key.
func adminTokenCmd() *cobra.Command {
	var c credFlags
	cmd := &cobra.Command{
		Use:   "admin-token",
		Short: "Print the admin token for operations requests (Authorization: Bearer <token>)",
		Long: `Print the admin token derived from the cluster key. Operations that change or
read the whole cluster (maintenance, backups, membership, ?recompute) need the
cluster key: the weir CLI signs them with it; scripts can send
"Authorization: Bearer <token>" instead. The token is the same on every node
of the cluster and is a secret like the key: send it over TLS or loopback only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := c.clusterKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), adminauth.Token(key))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.key, "cluster-key", "", "cluster key (prefer --cluster-key-file)")
	f.StringVar(&c.keyFile, "cluster-key-file", "", "file holding the cluster key")
	f.StringVar(&c.dataDir, "data-dir", "./weir-data", "data directory to read cluster.key from when no key is given")
	return cmd
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
			// A standby's (or promoted or fenced cluster's) DR role and lag.
			var d dr.Status
			if err := st.call(cmd.Context(), http.MethodGet, dr.Path, nil, false, &d); err == nil && (d.Role != "primary" || d.Epoch > 0) {
				fmt.Fprintln(cmd.OutOrStdout(), "\ndisaster recovery:")
				return printDR(cmd, false, d)
			}
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
			if err := jf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/join", jr, true, nil); err != nil {
				return err
			}
			return jf.after(cmd, fmt.Sprintf("%s joined as a non-voter; it becomes a voter once it has caught up", jr.ID))
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
			if err := rf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/remove", cluster.RemoveRequest{ID: args[0], Force: force}, true, nil); err != nil {
				return err
			}
			return rf.after(cmd, args[0]+" removed")
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
			if err := tf.call(cmd.Context(), http.MethodPost, cluster.AdminBase+"/transfer-leader", req, true, nil); err != nil {
				return err
			}
			return tf.after(cmd, "leadership transferred")
		},
	}
	tf.register(transfer, true)

	cmd.AddCommand(status, join, remove, transfer)
	return cmd
}

// after reports a membership change: what was done, then the cluster as
// it is now (the status as JSON with --json).
func (a *adminFlags) after(cmd *cobra.Command, done string) error {
	var s cluster.Status
	if err := a.call(cmd.Context(), http.MethodGet, cluster.AdminBase+"/status", nil, false, &s); err != nil {
		return fmt.Errorf("%s, but the status could not be read: %w", done, err)
	}
	if a.json {
		return printJSON(cmd.OutOrStdout(), s)
	}
	fmt.Fprintln(cmd.OutOrStdout(), done+".")
	printStatus(cmd.OutOrStdout(), s)
	return nil
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
		if !m.Reachable {
			// What a node that does not answer last knew is unknown: no
			// figures rather than zeros that read as "caught up".
			fmt.Fprintf(w, "%-16s %-10s %-9s %-10s %-9v %8s %8s %6s  %s\n", m.ID, m.Zone, m.Suffrage, "unknown", false, "-", "-", "-", m.APIURL)
			continue
		}
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
