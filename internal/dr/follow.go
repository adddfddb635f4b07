package dr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

// Wire headers of the entries endpoint.
const (
	hdrApplied = "X-Weir-Dr-Applied" // the serving node's applied index
	hdrLast    = "X-Weir-Dr-Last"    // the last index the answer covers
)

// errNeedSeed is the primary saying the entries asked for are gone (or
// were applied under another role): the standby needs a snapshot.
var errNeedSeed = errors.New("the primary no longer has the entries this standby needs: seeding from its snapshot")

// follow pulls and applies the primary's entries while this node leads a
// standby.
func (d *DR) follow(ctx context.Context) {
	// A new following period (a new role, or this node newly leading):
	// what an earlier one saw of its primary is not this lag.
	d.mu.Lock()
	d.lag = Lag{Seeds: d.lag.Seeds}
	d.mu.Unlock()
	next := 0 // the primary URL to try
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		s, err := d.State()
		if err != nil || s.RoleName() != command.RoleStandby || !d.n.IsLeader() {
			return
		}
		url := strings.TrimRight(s.Primary[next%len(s.Primary)], "/")
		if s.NeedsSeed {
			err = d.seed(ctx, url, s)
		} else {
			err = d.pull(ctx, url, s)
		}
		switch {
		case err == nil:
			wait = 200 * time.Millisecond
			d.setError(nil)
			continue
		case errors.Is(err, errNeedSeed):
			d.opt.Log.Warn("dr: seeding the standby from the primary's snapshot", "primary", url, "reason", err)
			d.setError(err)
			if serr := d.seed(ctx, url, s); serr != nil {
				d.opt.Log.Warn("dr: seed failed", "primary", url, "err", serr)
				d.setError(serr)
			} else {
				continue
			}
		default:
			d.opt.Log.Info("dr: cannot follow the primary", "primary", url, "err", err)
			d.setError(err)
			next++
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (d *DR) request(ctx context.Context, method, url string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminauth.Token(d.opt.Key))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return d.opt.HTTP.Do(req)
}

// pull fetches the entries after the standby's index and proposes them.
func (d *DR) pull(ctx context.Context, url string, s store.DRState) error {
	u := fmt.Sprintf("%s%s?after=%d&maxBytes=%d", url, EntriesPath, s.Index, d.opt.BatchBytes)
	rctx, cancel := context.WithTimeout(ctx, d.opt.Wait+30*time.Second)
	defer cancel()
	resp, err := d.request(rctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusGone:
		return errNeedSeed
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	applied, _ := strconv.ParseUint(resp.Header.Get(hdrApplied), 10, 64)
	last, _ := strconv.ParseUint(resp.Header.Get(hdrLast), 10, 64)
	idx, data, err := readEntries(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the primary's entries: %w", err)
	}
	now := d.opt.Now()
	d.note(applied, s.Index, now)
	if last <= s.Index {
		return nil // nothing new (the primary waited)
	}
	// A command this build cannot apply would stop every standby node:
	// wait for the upgrade instead of proposing it.
	for i, b := range data {
		if _, err := command.Decode(b); errors.Is(err, command.ErrUnknown) {
			return fmt.Errorf("the primary's entry %d needs a newer build on this standby: %w", idx[i], err)
		}
	}
	var res store.DRApplied
	c := command.NewDRApply(idx, data, last, now.UnixMilli())
	if err := d.n.ProposeAnywhere(ctx, c, &res); err != nil {
		return err
	}
	d.note(applied, res.Index, d.opt.Now())
	return nil
}

// note records the standby's position against the primary's.
func (d *DR) note(primary, index uint64, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lag.PrimaryIndex, d.lag.Index, d.lag.LastContact = primary, index, now
	if index >= primary {
		d.lag.Entries, d.lag.behindSince = 0, time.Time{}
		return
	}
	d.lag.Entries = primary - index
	if d.lag.behindSince.IsZero() {
		d.lag.behindSince = now
	}
}

// seed replaces the standby's state with the primary's snapshot (its
// backup stream). The snapshot is rewritten before it is installed
// (store.SeedFrame): its member table is this cluster's and its DR role is
// this standby at the snapshot's index, so no node of the standby ever
// holds the primary's role, not even between the install and a command
// that would correct it.
func (d *DR) seed(ctx context.Context, url string, s store.DRState) error {
	resp, err := d.request(ctx, http.MethodGet, url+backup.Path+"?content=omit", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup from the primary: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	m, _, err := backup.ReadHeader(br)
	if err != nil {
		return err
	}
	at := d.opt.Now().UnixMilli()
	var cmds []command.Command
	for _, r := range d.ownMembers() {
		cmds = append(cmds, &command.SetNode{ID: r.ID, APIURL: r.APIURL, RaftAddr: r.RaftAddr, Zone: r.Zone, Level: r.Level, At: at})
	}
	cmds = append(cmds, &command.SetDRRole{Role: command.RoleStandby, Epoch: s.Epoch, Primary: s.Primary, Index: m.Index, Reset: true, At: at, By: "dr seed"})
	path := filepath.Join(filepath.Dir(d.st.Path()), "dr-seed.frame")
	defer os.Remove(path)
	size, err := store.SeedFrame(br, path, cmds...)
	if err != nil {
		return fmt.Errorf("the primary's snapshot: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := d.n.InstallSnapshot(f, size, 10*time.Minute); err != nil {
		return fmt.Errorf("installing the primary's snapshot: %w", err)
	}
	d.mu.Lock()
	d.lag.Seeds++
	d.mu.Unlock()
	d.opt.Log.Info("dr: seeded from the primary's snapshot", "primary", url, "index", m.Index, "bytes", size)
	return nil
}

// ownMembers is the member records that describe a node of this
// cluster's Raft configuration (both clusters of a DR pair may name their
// nodes n1, n2, ...: the Raft address tells them apart).
func (d *DR) ownMembers() []store.NodeRec {
	ours := d.n.Members()
	var nodes, own []store.NodeRec
	_ = d.st.Read(func(tx *store.Tx) (err error) { nodes, err = tx.Nodes(); return })
	for _, r := range nodes {
		if addr, ok := ours[r.ID]; ok && addr == r.RaftAddr {
			own = append(own, r)
		}
	}
	return own
}

// writeEntries writes entries as the entries endpoint sends them: per
// entry its index (8 bytes), length (4 bytes) and bytes.
func writeEntries(w io.Writer, idx []uint64, data [][]byte) error {
	var hdr [12]byte
	for i := range idx {
		binary.BigEndian.PutUint64(hdr[:8], idx[i])
		binary.BigEndian.PutUint32(hdr[8:], uint32(len(data[i])))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(data[i]); err != nil {
			return err
		}
	}
	return nil
}

// maxEntry bounds one entry read from a primary.
const maxEntry = 256 << 20

func readEntries(r io.Reader) ([]uint64, [][]byte, error) {
	br := bufio.NewReader(r)
	var idx []uint64
	var data [][]byte
	var hdr [12]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			return idx, data, nil
		} else if err != nil {
			return nil, nil, err
		}
		n := binary.BigEndian.Uint32(hdr[8:])
		if n > maxEntry {
			return nil, nil, fmt.Errorf("entry of %d bytes", n)
		}
		// Grown as the bytes arrive: a length that lies costs nothing.
		var bb bytes.Buffer
		if _, err := io.CopyN(&bb, br, int64(n)); err != nil {
			return nil, nil, fmt.Errorf("entry of %d bytes: %w", n, err)
		}
		b := bb.Bytes()
		i := binary.BigEndian.Uint64(hdr[:8])
		if len(idx) > 0 && i <= idx[len(idx)-1] {
			return nil, nil, fmt.Errorf("entry %d after %d", i, idx[len(idx)-1])
		}
		idx = append(idx, i)
		data = append(data, b)
	}
}
