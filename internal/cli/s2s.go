package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/sitetosite"
)

// s2sCmd is `weir s2s send|receive`: a site-to-site client for NiFi and
// Weir alike (package sitetosite), with peer selection, a persisted peer
// cache and failover across clusters.
func s2sCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "s2s",
		Short: "Send flowfiles to, or receive them from, a NiFi or Weir site-to-site port",
		Long: `A site-to-site client over NiFi's HTTP transport. --url names one cluster by
some of its nodes (comma-separated); repeat it to list standby clusters in
order of preference: the client moves to the next when no node of a cluster
takes the transaction, and back after --fail-back. Each cluster's peers and
port ids are kept in --cache-dir, so the client keeps working while every
URL given for a cluster is down.`,
	}
	cmd.AddCommand(s2sSendCmd(), s2sReceiveCmd())
	return cmd
}

type s2sFlags struct {
	urls     []string
	port     string
	cacheDir string
	compress bool
	timeout  time.Duration
	failBack time.Duration
	verbose  bool
	tls      tlsFlags
	// Pull batch hints (receive only): zero leaves them to the server.
	batchCount    int
	batchBytes    int64
	batchDuration time.Duration
}

// registerBatch adds the pull batch hints NiFi's remote ports have.
func (f *s2sFlags) registerBatch(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.batchCount, "batch-count", 0, "at most this many flowfiles per transaction (0: the server's default)")
	fl.Int64Var(&f.batchBytes, "batch-size", 0, "stop a transaction once it holds this many bytes (0: the server's default)")
	fl.DurationVar(&f.batchDuration, "batch-duration", 0, "stop a transaction after this long (0: the server's default, 5s on NiFi and Weir)")
}

func (f *s2sFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.urls, "url", nil, "a cluster's node URLs, comma-separated, e.g. https://nifi-1:8443/nifi,https://nifi-2:8443/nifi; repeat for standby clusters, in order (required)")
	fl.StringVar(&f.port, "port", "", "the remote port's name or id (required)")
	fl.StringVar(&f.cacheDir, "cache-dir", defaultS2SCache(), "where each cluster's last known peers and port ids are kept (\"\" for none)")
	fl.BoolVar(&f.compress, "compress", false, "NiFi's per-packet compression")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "connect and response-header timeout per request (NiFi's default)")
	fl.DurationVar(&f.failBack, "fail-back", 30*time.Second, "how long to stay on a standby cluster before trying the preferred ones again")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log failovers and penalized peers")
	f.tls.register(cmd)
	_ = cmd.MarkFlagRequired("url")
	_ = cmd.MarkFlagRequired("port")
}

func defaultS2SCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "weir", "s2s")
	}
	return ""
}

func (f *s2sFlags) remote(cmd *cobra.Command) (*sitetosite.Remote, error) {
	hc, err := f.tls.client()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if hc.Transport != nil {
		tr = hc.Transport.(*http.Transport).Clone()
	}
	tr.ResponseHeaderTimeout = f.timeout
	tr.TLSHandshakeTimeout = f.timeout
	tr.DialContext = (&net.Dialer{Timeout: f.timeout, KeepAlive: 30 * time.Second}).DialContext
	var clusters [][]string
	for _, u := range f.urls {
		clusters = append(clusters, strings.Split(u, ","))
	}
	log := slog.New(slog.DiscardHandler)
	if f.verbose {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	}
	return sitetosite.New(sitetosite.Config{Clusters: clusters, Port: f.port, CacheDir: f.cacheDir,
		HTTP: &http.Client{Transport: tr}, Compress: f.compress, FailBack: f.failBack, Log: log,
		BatchCount: f.batchCount, BatchBytes: f.batchBytes, BatchDuration: f.batchDuration})
}

func s2sSendCmd() *cobra.Command {
	var f s2sFlags
	var attrs []string
	var batch int
	cmd := &cobra.Command{
		Use:   "send --url URL[,URL...] --port NAME|ID [FILE...]",
		Short: "Send files (or stdin) as flowfiles to an input port",
		Long: `Each FILE becomes one flowfile with the attributes filename and path, plus
--attr ones; with no FILE, stdin is one flowfile. Files go --batch at a time
in one transaction, confirmed only when the remote has them (a Weir cluster:
on disk on a quorum). Each flowfile carries a stable weir.s2s.id attribute, the
same on every retry, so a receiver can drop the duplicates a lost
confirmation can cause.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			extra := map[string]string{}
			for _, a := range attrs {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("--attr %q: want KEY=VALUE", a)
				}
				extra[k] = v
			}
			if batch <= 0 {
				return fmt.Errorf("--batch must be at least 1")
			}
			r, err := f.remote(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if len(args) == 0 {
				data, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return err
				}
				ff := sitetosite.FlowFile{Attributes: withAttrs(extra, map[string]string{"filename": "stdin"}), Content: data}
				d, err := r.Send(ctx, []sitetosite.FlowFile{ff})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sent 1 flowfile (%d bytes) to %s (cluster %d)\n", len(data), d.Peer, d.Cluster+1)
				return nil
			}
			var sent, bytes int64
			for start := 0; start < len(args); start += batch {
				var ffs []sitetosite.FlowFile
				var open []*os.File
				for _, name := range args[start:min(start+batch, len(args))] {
					fh, err := os.Open(name)
					if err != nil {
						closeAll(open)
						return err
					}
					open = append(open, fh)
					st, err := fh.Stat()
					if err != nil {
						closeAll(open)
						return err
					}
					abs, _ := filepath.Abs(name)
					ffs = append(ffs, sitetosite.FlowFile{Reader: fh, Size: st.Size(),
						Attributes: withAttrs(extra, map[string]string{"filename": filepath.Base(name), "path": filepath.Dir(abs) + "/"})})
					bytes += st.Size()
				}
				d, err := r.Send(ctx, ffs)
				closeAll(open)
				if err != nil {
					return fmt.Errorf("after %d of %d flowfiles: %w", sent, len(args), err)
				}
				sent += int64(len(ffs))
				if f.verbose {
					fmt.Fprintf(cmd.ErrOrStderr(), "sent %d flowfiles to %s (cluster %d)\n", len(ffs), d.Peer, d.Cluster+1)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d flowfiles (%d bytes)\n", sent, bytes)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "an attribute KEY=VALUE for every flowfile (repeatable)")
	cmd.Flags().IntVar(&batch, "batch", 100, "flowfiles per transaction")
	return cmd
}

func withAttrs(extra, base map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func s2sReceiveCmd() *cobra.Command {
	var f s2sFlags
	var out string
	var follow bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "receive --url URL[,URL...] --port NAME|ID --out DIR",
		Short: "Receive flowfiles from an output port into a directory",
		Long: `Each flowfile is written to DIR as NAME (its content) and NAME.attributes.json,
where NAME is its weir.s2s.id attribute (or uuid, or a sequence) and its
filename. Both files and DIR are fsynced before the transaction is confirmed,
so a flowfile leaves the remote's queue only once it is on this disk. Without
--follow it receives until the port is empty.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			r, err := f.remote(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var total, seq int64
			keep := func(ffs []sitetosite.FlowFile) error {
				for _, ff := range ffs {
					seq++
					if err := writeFlowFile(out, seq, ff); err != nil {
						return err
					}
				}
				return durable.SyncDir(out)
			}
			for {
				n, _, err := r.Receive(ctx, keep)
				if err != nil {
					if errors.Is(err, context.Canceled) && ctx.Err() != nil {
						break
					}
					return err
				}
				total += int64(n)
				if n > 0 {
					continue
				}
				if !follow {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
				if ctx.Err() != nil {
					break
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "received %d flowfiles into %s\n", total, out)
			return nil
		},
	}
	f.register(cmd)
	f.registerBatch(cmd)
	cmd.Flags().StringVar(&out, "out", "", "directory for the received flowfiles (required)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep receiving until interrupted")
	cmd.Flags().DurationVar(&every, "poll", time.Second, "with --follow, the wait after an empty pull")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeFlowFile writes a received flowfile's content and attributes,
// each fsynced (the caller syncs the directory).
func writeFlowFile(dir string, seq int64, ff sitetosite.FlowFile) error {
	id := ff.Attributes[sitetosite.IDAttribute]
	if id == "" {
		id = ff.Attributes["uuid"]
	}
	if id == "" {
		id = fmt.Sprintf("%d-%d", time.Now().UnixNano(), seq)
	}
	name := unsafeName.ReplaceAllString(id, "_")
	if fn := unsafeName.ReplaceAllString(filepath.Base(ff.Attributes["filename"]), "_"); fn != "" && fn != "." && fn != "_" {
		name += "-" + fn
	}
	attrs, err := json.MarshalIndent(ff.Attributes, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(dir, name), ff.Content, 0o644); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, name+".attributes.json"), append(attrs, '\n'), 0o644)
}
