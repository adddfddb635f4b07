package cli

import (
	"context"
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

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/durable"
)

// backupCmd is `weir backup --server URL -o FILE` (download a consistent
// online backup, verified as it arrives), `weir backup --server URL
// --on-server` (the node writes one into its --backup-dir) and `weir backup
// verify FILE`.
func backupCmd() *cobra.Command {
	var server, out string
	var stale, quiet, onServer, asJSON bool
	var timeout time.Duration
	var cred credFlags
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Download a consistent online backup of the whole registry",
		Long: `Download a backup from a running node while writes continue: all state at one
commit index (every write acknowledged before the command started is in it),
with a manifest (index, time, counts, state hash) and checksums. The file is
verified as it arrives and only then renamed to -o. No maintenance mode is
needed. Restore it with "weir restore FILE --data-dir DIR".

With --on-server the leader writes the backup into its own backup directory
(--backup-dir) instead, as a scheduled backup would, and the command prints
where: the store is copied on the server's disk, nothing crosses the network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if onServer {
				if out != "" {
					return errors.New("--on-server writes the backup on the server: leave out -o")
				}
				return backupOnServer(cmd.Context(), cmd, server, timeout, &cred, asJSON)
			}
			if out == "" {
				return errors.New("say where to write the backup with -o FILE (or use --on-server)")
			}
			return downloadBackup(cmd.Context(), cmd, server, out, stale, quiet || asJSON, timeout, &cred, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:18080", "base URL of any Weir node")
	f.StringVarP(&out, "output", "o", "", "file to write the backup to")
	f.BoolVar(&stale, "stale", false, "back up this node's state as it is, without first catching up with the leader")
	f.BoolVar(&onServer, "on-server", false, "have the leader write the backup into its --backup-dir instead of downloading it")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (no progress output)")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (0 = no limit)")
	cred.register(cmd)

	var verifyJSON bool
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a backup file's checksums and print its manifest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, _ := f.Stat()
			p := newProgress(cmd.ErrOrStderr(), "verifying", st.Size(), true, "", quiet || verifyJSON)
			info, err := backup.Verify(f, p.Add)
			p.Done()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return reportBackup(cmd, verifyJSON, backupReport{Result: "backup OK", Path: args[0], Info: info})
		},
	}
	verify.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	verify.Flags().BoolVar(&verifyJSON, "json", false, "print the manifest as JSON (no progress output)")
	cmd.AddCommand(verify)
	return cmd
}

func downloadBackup(ctx context.Context, cmd *cobra.Command, server, out string, stale, quiet bool, timeout time.Duration, cred *credFlags, asJSON bool) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	u := backupURL(server)
	if stale {
		u += "?consistency=stale"
	}
	resp, err := callBackup(ctx, http.MethodGet, u, cred)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	p := newProgress(cmd.ErrOrStderr(), "backup", resp.ContentLength, true, "", quiet)
	// Verify while downloading: each piece read goes to the file and
	// through the checker, in one pass and without a copy in between.
	fw := &durable.Writer{F: f}
	var chk backup.Checker
	info, err := chk.Copy(fw, resp.Body, p.Add)
	p.Done()
	if err != nil {
		return fmt.Errorf("the backup from %s is not complete or not intact, nothing was saved: %w", server, err)
	}
	if err := fw.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return reportBackup(cmd, asJSON, backupReport{Result: "backup written", Path: out, Info: info})
}

// backupURL is the backup endpoint of the node at server.
func backupURL(server string) string {
	return strings.TrimSuffix(strings.TrimRight(server, "/"), "/nifi-registry-api") + backup.Path
}

// callBackup sends a request to the backup endpoint and returns the
// response if it is a 200; otherwise an error with the node's message.
func callBackup(ctx context.Context, method, u string, cred *credFlags) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if err := cred.authorize(req, nil); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// withTimeout bounds ctx by timeout unless it is 0.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}

func backupOnServer(ctx context.Context, cmd *cobra.Command, server string, timeout time.Duration, cred *credFlags, asJSON bool) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	resp, err := callBackup(ctx, http.MethodPost, backupURL(server), cred)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var t backup.Taken
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", server, err)
	}
	return reportBackup(cmd, asJSON, backupReport{Result: "backup written on the server", Path: t.Path,
		Info: backup.Info{Manifest: t.Manifest, FileBytes: t.SizeBytes}, TookMs: &t.TookMs})
}

// backupReport is what backup, backup verify and restore print: as text,
// or with --json as this object.
type backupReport struct {
	Result string `json:"result"`
	Path   string `json:"path"`
	backup.Info
	TookMs *int64 `json:"tookMs,omitempty"`
	// DataDir is the directory a restore built.
	DataDir string `json:"dataDir,omitempty"`
}

func reportBackup(cmd *cobra.Command, asJSON bool, r backupReport) error {
	w := cmd.OutOrStdout()
	if asJSON {
		return printJSON(w, r)
	}
	printBackupInfo(w, r.Result, r.Path, r.Info)
	if r.TookMs != nil {
		fmt.Fprintf(w, "  took:       %d ms\n", *r.TookMs)
	}
	if r.DataDir != "" {
		fmt.Fprintf(w, "\nStart it with: weir server --data-dir %s\n", r.DataDir)
	}
	return nil
}

func printBackupInfo(w io.Writer, title, path string, info backup.Info) {
	fmt.Fprintf(w, "%s: %s\n", title, path)
	fmt.Fprintf(w, "  index:      %d\n", info.Index)
	fmt.Fprintf(w, "  taken at:   %s on node %s\n", info.CreatedAt.Format(time.RFC3339), info.NodeID)
	fmt.Fprintf(w, "  contents:   %d buckets, %d flows, %d versions\n", info.Counts.Buckets, info.Counts.Flows, info.Counts.Versions)
	fmt.Fprintf(w, "  state hash: %s\n", info.StateHash)
	fmt.Fprintf(w, "  size:       %s (store %s)\n", humanBytes(info.FileBytes), humanBytes(info.StoreBytes))
	if info.SHA256 != "" {
		fmt.Fprintf(w, "  sha256:     %s\n", info.SHA256)
	}
}

// restoreCmd is `weir restore FILE --data-dir DIR`.
func restoreCmd() *cobra.Command {
	var dataDir string
	var quiet, asJSON bool
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Build a new node's data directory from a backup file",
		Long: `Verify a backup file and build the data directory of a NEW node from it. The
directory must be empty (or not exist). Every checksum, the store's page
structure and the state hash are checked before anything is left in it; a
truncated or altered file is refused and the directory stays empty.

Then start the node with "weir server --data-dir DIR": it forms a new one-node
cluster holding the backup's registry (with a new cluster key), which other
nodes can join with --join.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return errors.New("say which data directory to build with --data-dir DIR")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, _ := f.Stat()
			p := newProgress(cmd.ErrOrStderr(), "restore", st.Size(), true, "", quiet || asJSON)
			info, err := backup.Restore(f, dataDir, p.Add)
			p.Done()
			if err != nil {
				return fmt.Errorf("restore of %s refused: %w", args[0], err)
			}
			return reportBackup(cmd, asJSON, backupReport{Result: "restored into " + dataDir + " from", Path: args[0], Info: info, DataDir: dataDir})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the new node (must be empty)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (no progress output)")
	return cmd
}
