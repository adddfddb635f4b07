package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress shows how far a long command got: a redrawn bar on a terminal,
// a plain line every few seconds otherwise (logs, CI), so output stays
// readable when redirected.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	width    int
	label    string
	bytes    bool // counts are bytes (else items of unit)
	unit     string
	total    int64
	done     int64
	start    time.Time
	lastDraw time.Time
	lastPct  int
	lastLine string
	drawn    bool
}

// newProgress writes to w (a terminal gets a bar). quiet turns it off.
func newProgress(w io.Writer, label string, total int64, bytes bool, unit string, quiet bool) *progress {
	p := &progress{w: w, label: label, total: total, bytes: bytes, unit: unit, start: time.Now(), lastPct: -1}
	if quiet {
		p.w = io.Discard
	}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.width = 80
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 40 {
			p.width = wd
		}
	}
	return p
}

func (p *progress) SetTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

func (p *progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.draw(false)
}

// Note prints a line of its own (above the bar on a terminal).
func (p *progress) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, msg)
	if p.tty && p.drawn {
		p.draw(true)
	}
}

// Done draws the final state and ends the line.
func (p *progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(true)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) amount(n int64) string {
	if !p.bytes {
		return fmt.Sprintf("%d", n)
	}
	return humanBytes(n)
}

func (p *progress) draw(force bool) {
	now := time.Now()
	pct := -1
	if p.total > 0 {
		pct = int(p.done * 100 / p.total)
		if pct > 100 {
			pct = 100
		}
	}
	elapsed := now.Sub(p.start)
	rate := ""
	if s := elapsed.Seconds(); s > 0.2 && p.bytes {
		rate = fmt.Sprintf("  %s/s", humanBytes(int64(float64(p.done)/s)))
	}
	of := p.amount(p.done)
	if p.total > 0 {
		of += " of " + p.amount(p.total)
	}
	if !p.bytes && p.unit != "" {
		of += " " + p.unit
	}
	if !p.tty {
		// A line when a tenth more is done or every 5 s, and at the end.
		if !force && !(pct >= 0 && pct/10 > p.lastPct/10) && now.Sub(p.lastDraw) < 5*time.Second {
			return
		}
		line := fmt.Sprintf("%s: %s", p.label, of)
		if pct >= 0 {
			line = fmt.Sprintf("%s: %3d%% (%s)", p.label, pct, of)
		}
		if line != p.lastLine {
			fmt.Fprintln(p.w, line+rate)
		}
		p.lastDraw, p.lastPct, p.lastLine = now, pct, line
		return
	}
	if !force && now.Sub(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.lastDraw, p.drawn = now, true
	info := fmt.Sprintf(" %s%s", of, rate)
	if pct >= 0 {
		info = fmt.Sprintf(" %3d%%", pct) + info
	}
	barW := p.width - len(p.label) - len(info) - 4
	bar := ""
	if barW >= 10 && pct >= 0 {
		n := barW * pct / 100
		bar = " [" + strings.Repeat("=", n) + strings.Repeat(" ", barW-n) + "]"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s%s", p.label, bar, info)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
