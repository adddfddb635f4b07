package hooks

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// poster sends a webhook's requests one at a time on one kept-alive
// connection, writing each request and reading its answer in the calling
// goroutine.
//
// Why not net/http's Transport: it hands every request to a writer
// goroutine and every answer back from a reader goroutine. A hook's
// worker sends one event at a time, and with two webhooks that is two
// round trips per commit on the leader; those hand-offs were about half
// of the delivery's CPU (measured on this machine: about 90 µs of client
// CPU per POST through net/http against 44 µs written and read in one
// goroutine). The wire format stays net/http's own: Request.Write and
// ReadResponse. A URL that goes through a proxy (HTTP_PROXY and the
// like) is sent by net/http as before; see newSender.
type poster struct {
	addr string      // host:port to dial
	tls  *tls.Config // nil for http

	mu   sync.Mutex // one request at a time (one worker per hook)
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

// answerKeep bounds the stated length of an answer body read to keep a
// connection: a longer one closes it instead.
const answerKeep = 64 << 10

func newPoster(u *url.URL, cfg *tls.Config) *poster {
	host, port := u.Hostname(), u.Port()
	p := &poster{}
	switch {
	case u.Scheme == "https":
		if port == "" {
			port = "443"
		}
		p.tls = cfg.Clone()
		if p.tls.ServerName == "" {
			p.tls.ServerName = host
		}
		p.tls.NextProtos = []string{"http/1.1"}
	case port == "":
		port = "80"
	}
	p.addr = net.JoinHostPort(host, port)
	return p
}

// do sends req (whose body must be rewindable: GetBody) and returns the
// answer's status and the start of its body.
func (p *poster) do(ctx context.Context, req *http.Request) (int, []byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	reused := p.conn != nil
	status, msg, err := p.roundTrip(ctx, req)
	if err != nil && reused && ctx.Err() == nil && closedIdle(err) {
		// The server closed the kept-alive connection while it was
		// idle (net/http retries this case too): send again on a new
		// one. Had the server taken the request before it closed, the
		// hook gets the event twice with the same id, which
		// at-least-once delivery allows.
		body, berr := req.GetBody()
		if berr != nil {
			return 0, nil, err
		}
		req.Body = body
		status, msg, err = p.roundTrip(ctx, req)
	}
	return status, msg, err
}

func (p *poster) roundTrip(ctx context.Context, req *http.Request) (status int, msg []byte, err error) {
	if p.conn == nil {
		if err := p.dial(ctx); err != nil {
			return 0, nil, err
		}
	}
	c := p.conn
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if d, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(d); err != nil {
			return 0, nil, err
		}
	}
	// A cancelled context (the node stops leading) ends a request in
	// flight at once, as it would through net/http.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := req.Write(p.bw); err != nil {
		return 0, nil, cause(ctx, err)
	}
	if err := p.bw.Flush(); err != nil {
		return 0, nil, cause(ctx, err)
	}
	resp, err := http.ReadResponse(p.br, req)
	if err != nil {
		return 0, nil, cause(ctx, err)
	}
	defer resp.Body.Close()
	// The status decides. The start of the body is the message of a
	// failed attempt; an error reading it is not the delivery's (as
	// through net/http).
	if resp.StatusCode/100 != 2 {
		msg, err = io.ReadAll(io.LimitReader(resp.Body, 200))
	}
	// The rest of the answer is read so that the connection can carry
	// the next request, when its length is stated and small; any other
	// answer (one that streams, or is long) closes the connection
	// instead of being waited for.
	keep := err == nil && !resp.Close && resp.ContentLength >= 0 && resp.ContentLength <= answerKeep
	if keep {
		_, err = io.Copy(io.Discard, resp.Body)
		keep = err == nil
	}
	if !keep || !stop() || c.SetDeadline(time.Time{}) != nil {
		p.close()
	}
	return resp.StatusCode, msg, nil
}

func (p *poster) dial(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return err
		}
		c = tc
	}
	p.conn, p.br, p.bw = c, bufio.NewReader(c), bufio.NewWriter(c)
	return nil
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// cause is ctx's error when the context ended the request (the deadline
// set from it, or the cancellation), err otherwise.
func cause(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Every deadline on the connection comes from ctx: its own, or
		// the one set when it was cancelled. The deadline can fire a
		// moment before ctx reports it.
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// closedIdle reports an error that a kept-alive connection closed by the
// server gives on the next request: nothing or a reset read back.
func closedIdle(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
