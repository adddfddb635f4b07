// Package sitetosite is a site-to-site client over NiFi's HTTP transport
// (version 1, transaction protocol 5) for Go programs: it pushes flowfiles
// to an input port and pulls them from an output port of NiFi or Weir,
// with the request sequence and headers of NiFi's own SiteToSiteClient
// (../shared/reference/s2s-protocol.md §4).
//
// Two layers:
//   - Client talks to one node: one transaction per call (Send, Receive),
//     plus the controller (Site) and peer list (Peers).
//   - Remote talks to a cluster, or to an ordered list of clusters (a
//     primary and its standbys): it picks peers with NiFi's weights,
//     penalizes the ones that fail, keeps each cluster's peers and port ids
//     in a cache file (NiFi's format, written atomically) so it works while
//     every configured URL is down, moves to the next cluster when no peer
//     of one takes a transaction and back after Config.FailBack, and gives
//     every flowfile a stable IDAttribute so receivers can drop the
//     duplicates at-least-once delivery allows.
//
// `weir s2s send` and `weir s2s receive` are built on Remote.
package sitetosite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/server"
)

// Client talks to one node.
type Client struct {
	// URL is the node's base URL (scheme, host and port; /nifi-api is
	// added).
	URL string
	// HTTP is the client to use (http.DefaultClient when nil).
	HTTP *http.Client
	// Compress asks for NiFi's per-packet compression on both ways.
	Compress bool
	// BatchCount, BatchBytes and BatchDuration are the pull batch hints
	// (0: the server's defaults; NiFi's server sends for 5 s without
	// any).
	BatchCount    int
	BatchBytes    int64
	BatchDuration time.Duration
}

// FlowFile is a flowfile. Received flowfiles hold their content in
// Content; one to send may instead give Size bytes to stream from Reader
// (when Reader is set), so its size is not bounded by memory.
type FlowFile struct {
	Attributes map[string]string
	Content    []byte
	Reader     io.Reader
	Size       int64
}

// ErrBadChecksum is returned when the server's CRC of a push does not
// match the client's: the transaction is cancelled with code 19 and the
// data must be sent again.
var ErrBadChecksum = errors.New("site-to-site: the server's checksum does not match what was sent")

// Error is an answer other than the expected one.
type Error struct {
	Status int
	Code   server.ResponseCode
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("site-to-site: HTTP %d, response code %d: %s", e.Status, e.Code, e.Msg)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, u string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(server.HeaderProtocolVersion, strconv.Itoa(server.TransportVersion))
	if strings.Contains(u, "/data-transfer/") {
		req.Header.Set(server.HeaderExpiration, "30000")
		if c.Compress {
			req.Header.Set(server.HeaderCompression, "true")
		}
		if c.BatchCount > 0 {
			req.Header.Set(server.HeaderBatchCount, strconv.Itoa(c.BatchCount))
		}
		if c.BatchBytes > 0 {
			req.Header.Set(server.HeaderBatchSize, strconv.FormatInt(c.BatchBytes, 10))
		}
		if c.BatchDuration > 0 {
			req.Header.Set(server.HeaderBatchDuration, strconv.FormatInt(max(c.BatchDuration.Milliseconds(), 1), 10))
		}
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.http().Do(req)
}

func (c *Client) base() string { return strings.TrimRight(c.URL, "/") + "/nifi-api" }

// Site returns what GET /site-to-site answers: the ports by name.
func (c *Client) Site(ctx context.Context) (server.ControllerDTO, error) {
	var e server.ControllerEntity
	err := c.getJSON(ctx, c.base()+"/site-to-site", &e)
	return e.Controller, err
}

// Peers returns what GET /site-to-site/peers answers.
func (c *Client) Peers(ctx context.Context) ([]server.PeerDTO, error) {
	var e server.PeersEntity
	err := c.getJSON(ctx, c.base()+"/site-to-site/peers", &e)
	return e.Peers, err
}

func (c *Client) getJSON(ctx context.Context, u string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
	}
	return json.Unmarshal(b, out)
}

// PortID finds a port's id by name (input or output ports).
func (c *Client) PortID(ctx context.Context, name string, input bool) (string, error) {
	site, err := c.Site(ctx)
	if err != nil {
		return "", err
	}
	ports := site.OutputPorts
	if input {
		ports = site.InputPorts
	}
	for _, p := range ports {
		if p.Name == name || p.ID == name {
			return p.ID, nil
		}
	}
	return "", fmt.Errorf("site-to-site: no port named %q", name)
}

// create opens a transaction and returns its URL.
func (c *Client) create(ctx context.Context, kind, port string) (string, error) {
	u := c.base() + "/data-transfer/" + kind + "/" + url.PathEscape(port) + "/transactions"
	resp, err := c.do(ctx, http.MethodPost, u, nil, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", resultError(resp)
	}
	loc := resp.Header.Get("Location")
	if loc == "" || resp.Header.Get(server.HeaderLocationIntent) != server.LocationIntentTransaction {
		return "", fmt.Errorf("site-to-site: transaction created without a transaction URL")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return loc, nil
}

func resultError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r server.TransactionResultEntity
	if json.Unmarshal(b, &r) == nil && r.ResponseCode != 0 {
		return &Error{Status: resp.StatusCode, Code: r.ResponseCode, Msg: r.Message}
	}
	return &Error{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
}

// end finishes a transaction with a response code and returns the result.
func (c *Client) end(ctx context.Context, loc string, code server.ResponseCode, checksum string) (server.TransactionResultEntity, error) {
	u := loc + "?responseCode=" + strconv.Itoa(int(code))
	if checksum != "" {
		u += "&checksum=" + checksum
	}
	var r server.TransactionResultEntity
	resp, err := c.do(ctx, http.MethodDelete, u, nil, nil)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, resultError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// sendBuffer is how much of a push body the client gathers before handing
// it to the HTTP transport, which sends each piece as one chunk.
const sendBuffer = 64 << 10

// Send pushes files to an input port in one transaction. It returns once
// the server confirmed the commit ({13}, or {14}: backoff true); any error
// means the files must be considered not sent (they may have been stored:
// a lost answer to the commit is a possible duplicate, never a loss).
func (c *Client) Send(ctx context.Context, port string, files []FlowFile) (backoff bool, err error) {
	loc, err := c.create(ctx, "input-ports", port)
	if err != nil {
		return false, err
	}
	// The body streams: packets are encoded as the request is written,
	// through a buffer. Unbuffered, each header and each content write
	// went out as an HTTP chunk of its own (two per flowfile, 30 bytes and
	// 1 KiB for small ones), and the server parsed a chunk line and made a
	// read system call for every few of them.
	pr, pw := io.Pipe()
	bw := bufio.NewWriterSize(pw, sendBuffer)
	enc := codec.NewEncoder(bw, c.Compress)
	encoded := make(chan error, 1)
	go func() {
		var err error
		for _, f := range files {
			content, size := f.Reader, f.Size
			if content == nil {
				content, size = bytes.NewReader(f.Content), int64(len(f.Content))
			}
			if err = enc.Encode(f.Attributes, size, content); err != nil {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		encoded <- err
	}()
	resp, err := c.do(ctx, http.MethodPost, loc+"/flow-files", pr, map[string]string{
		"Content-Type": "application/octet-stream", "Accept": "text/plain"})
	pr.CloseWithError(errors.New("request ended"))
	encErr := <-encoded
	if err != nil {
		_, _ = c.end(context.WithoutCancel(ctx), loc, server.CodeCancelTransaction, "")
		return false, err
	}
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return false, resultError(resp)
	}
	if rerr != nil {
		return false, rerr
	}
	if encErr != nil {
		_, _ = c.end(context.WithoutCancel(ctx), loc, server.CodeCancelTransaction, "")
		return false, encErr
	}
	if want := codec.FormatChecksum(enc.Checksum()); strings.TrimSpace(string(b)) != want {
		_, _ = c.end(ctx, loc, server.CodeBadChecksum, "")
		return false, fmt.Errorf("%w (server %q, client %s)", ErrBadChecksum, b, want)
	}
	r, err := c.end(ctx, loc, server.CodeConfirmTransaction, "")
	if err != nil {
		return false, err
	}
	switch r.ResponseCode {
	case server.CodeTransactionFinished:
		return false, nil
	case server.CodeTransactionFinishedButFull:
		return true, nil
	}
	return false, &Error{Status: http.StatusOK, Code: r.ResponseCode, Msg: r.Message}
}

// Receive pulls one transaction's worth of flowfiles from an output port.
// keep is called with them before the client confirms: only when it
// returns nil are they acknowledged (and removed by the server); with an
// error the transaction is cancelled and the server hands them out again.
// It returns the number of flowfiles received (0 when the port had none).
func (c *Client) Receive(ctx context.Context, port string, keep func([]FlowFile) error) (int, error) {
	loc, err := c.create(ctx, "output-ports", port)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(ctx, http.MethodGet, loc+"/flow-files", nil, map[string]string{"Accept": "application/octet-stream"})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return 0, nil // nothing queued; the server ends the transaction
	case http.StatusAccepted:
	default:
		return 0, resultError(resp)
	}
	dec := codec.NewDecoder(resp.Body, c.Compress, codec.Limits{})
	var files []FlowFile
	for {
		p, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_, _ = c.end(context.WithoutCancel(ctx), loc, server.CodeCancelTransaction, "")
			return 0, err
		}
		content, err := io.ReadAll(p.Content)
		if err != nil {
			_, _ = c.end(context.WithoutCancel(ctx), loc, server.CodeCancelTransaction, "")
			return 0, err
		}
		files = append(files, FlowFile{Attributes: p.Attributes, Content: content})
	}
	if err := keep(files); err != nil {
		_, _ = c.end(context.WithoutCancel(ctx), loc, server.CodeCancelTransaction, "")
		return 0, err
	}
	r, err := c.end(ctx, loc, server.CodeConfirmTransaction, codec.FormatChecksum(dec.Checksum()))
	if err != nil {
		return 0, err
	}
	if r.ResponseCode != server.CodeConfirmTransaction {
		return 0, &Error{Status: http.StatusOK, Code: r.ResponseCode, Msg: r.Message}
	}
	return len(files), nil
}
